"""Rules in a real daemon: a dropped file is filed by a move and backed up by a copy, once, and
neither the running watcher nor a restart takes the moved file again."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import Env, base_config
from tests.daemon.helpers import all_settled, query, wait_for

from .helpers import sha

pytestmark = pytest.mark.slow


def _config(env: Env) -> str:
    return base_config(env.data_dir, env.inbox) + f"""
[pipelines.default]
steps = []

[[rules]]
name = "file"
when = {{ name = "*.txt" }}
actions = [{{ type = "move", to = "{env.inbox}/sorted/{{{{ label or 'unsorted' }}}}/{{{{ title }}}}{{{{ ext }}}}" }}]

[[rules]]
name = "backup"
actions = [{{ type = "copy", to = "{env.root}/backup/{{{{ name }}}}" }}]
"""


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_dropped_file_is_moved_and_copied_once_and_not_taken_again(wf_env: Env) -> None:
    env = wf_env
    env.write_config(_config(env))
    env.run("start", timeout=120)
    shas = Counter()
    for i in range(4):  # the same name in four folders, four contents
        folder = env.inbox / f"from-{i}"
        folder.mkdir()
        (folder / "note.txt").write_text(f"note number {i}\n")
        shas[sha(folder / "note.txt")] += 1
    wait_for(lambda: all_settled(env, 4), 60, "the four notes")
    wait_for(lambda: len(query(env, "SELECT 1 FROM rule_runs")) == 8, 30, "both rules on each note")
    assert {r["status"] for r in query(env, "SELECT status FROM rule_runs")} == {"applied"}

    sorted_root = env.inbox / "sorted" / "unsorted"
    assert sorted(p.name for p in _files(sorted_root)) == ["note (2).txt", "note (3).txt", "note (4).txt", "note.txt"]
    assert Counter(sha(p) for p in _files(sorted_root)) == shas
    assert Counter(sha(p) for p in _files(env.root / "backup")) == shas
    assert [p for p in _files(env.inbox) if not p.is_relative_to(sorted_root)] == []

    time.sleep(1.5)  # the watcher saw the moved files land in the inbox: they were known
    docs = env.json("list")
    assert len(docs) == 4 and all(d["path"].startswith(str(sorted_root)) for d in docs)
    env.run("stop")

    env.run("start", timeout=120)  # the start-up scan walks the inbox, sorted/ included
    time.sleep(2.0)
    assert len(env.json("list")) == 4
    assert query(env, "SELECT COUNT(*) AS n FROM jobs")[0]["n"] == 4
    assert len(query(env, "SELECT 1 FROM rule_runs")) == 8
    # Each document is at two places, its moved file and its copy: no stale place, none taken again.
    places = {d["id"]: sorted(loc["path"] for loc in env.json("show", str(d["id"]))["locations"]) for d in docs}
    assert all(len(p) == 2 and p[0].startswith(str(env.root / "backup")) and p[1].startswith(str(sorted_root))
               for p in places.values()), places
    assert {p[1] for p in places.values()} == {str(p) for p in _files(sorted_root)}
    env.run("stop")
    assert Counter(sha(p) for p in _files(sorted_root)) == shas

"""Maildir sources through the real daemon: each message taken once, whatever a mail client does."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import Env, base_config, shared_data
from tests.daemon.helpers import all_settled, query, wait_for
from workflowd.sources.maildir import unique_name

pytestmark = pytest.mark.slow


def test_unique_name_ignores_flags() -> None:
    assert unique_name("1700000000.M1P2.host") == "1700000000.M1P2.host"
    assert unique_name("1700000000.M1P2.host:2,S") == "1700000000.M1P2.host"
    assert unique_name("1700000000.M1P2.host!2,FS") == "1700000000.M1P2.host"


def _deliver(maildir: Path, name: str, raw: bytes) -> None:
    (maildir / "tmp" / name).write_bytes(raw)
    (maildir / "tmp" / name).rename(maildir / "new" / name)  # as an MDA delivers


def _config(env: Env, maildir: Path, extra: str = "") -> None:
    env.write_config(
        base_config(
            env.data_dir,
            env.inbox,
            f"""
[[sources]]
type = "maildir"
name = "md"
path = "{maildir}"
{extra}
[pipelines.default]
steps = []
""",
        )
    )


def _messages(env: Env) -> list[dict]:
    return query(env, "SELECT * FROM documents WHERE source = 'md' AND parent_id IS NULL")


def test_maildir_messages_are_taken_once_across_client_moves_and_restarts(
    wf_env: Env, tmp_path: Path
) -> None:
    env = wf_env
    ham = sorted((shared_data("emails", "spamassassin", "easy_ham")).iterdir())[:3]
    maildir = tmp_path / "Maildir"
    for sub in ("tmp", "new", "cur"):
        (maildir / sub).mkdir(parents=True)
    _deliver(maildir, "1.M1P1.host", ham[0].read_bytes())  # there before the daemon starts
    _config(env, maildir, "include_cur = true")
    env.run("start", timeout=120)
    wait_for(lambda: len(_messages(env)) == 1 and all_settled(env, 1), 30, "the message present at start")
    _deliver(maildir, "2.M2P1.host", ham[1].read_bytes())
    wait_for(lambda: len(_messages(env)) == 2 and all_settled(env, 2), 30, "a delivered message")
    # A mail client reads both: moved to cur/ with flags. Not new messages.
    for name in ("1.M1P1.host", "2.M2P1.host"):
        (maildir / "new" / name).rename(maildir / "cur" / f"{name}:2,S")
    (maildir / "tmp" / "partial").write_bytes(b"From: x\n")  # tmp/ is never read
    time.sleep(1.5)
    assert len(_messages(env)) == 2
    env.run("stop")
    _deliver(maildir, "3.M3P1.host", ham[2].read_bytes())
    env.run("start", timeout=120)
    wait_for(
        lambda: len(_messages(env)) == 3 and all_settled(env, 3), 30, "the message delivered while stopped"
    )
    env.run("stop")
    assert len(_messages(env)) == 3
    assert query(env, "SELECT COUNT(*) AS n FROM mail_messages")[0]["n"] == 3
    # without mark_seen the Maildir is left as it was
    assert sorted(p.name for p in (maildir / "new").iterdir()) == ["3.M3P1.host"]
    docs = _messages(env)
    assert all(d["status"] == "done" and d["media_type"] == "message/rfc822" for d in docs), docs

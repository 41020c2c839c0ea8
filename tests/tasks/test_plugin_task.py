"""A task a plugin adds (plugins/example_urgency.py) is corrected, reviewed, trained, retrained
and evaluated through the same commands as the built-in ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, Env, base_config

URGENT = [
    "URGENT: your invoice is overdue, pay immediately to avoid a fine.",
    "Final reminder: the deadline for the contract is today.",
    "Please call me asap, the server is down.",
    "Immediate action needed: your account will be closed today.",
]
NORMAL = [
    "Here are the photos from our holiday in Portugal.",
    "The book club meets next month to talk about the novel.",
    "Thanks for the lovely dinner last week.",
    "Your monthly newsletter with garden tips for the spring.",
]


def test_a_plugin_task_is_corrected_trained_retrained_and_evaluated(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    plugins = tmp_path / "plugins"  # a copy: the plugins folder must be writable by its owner only
    plugins.mkdir(mode=0o700)
    (plugins / "example_urgency.py").write_text((REPO / "plugins" / "example_urgency.py").read_text())
    (plugins / "example_urgency.py").chmod(0o600)
    env.write_config(
        f"plugins_dir = {json.dumps(str(plugins))}\n"
        + base_config(env.data_dir, env.inbox)
        + '[pipelines.default]\nsteps = ["urgency"]\n'
    )
    steps = env.json("steps")
    [task] = [t for t in steps["tasks"] if t["name"] == "urgency"]
    assert task["from"].startswith("file:") and task["correction"] == "label"
    assert task["builtin_model"] == "cue words" and "JSONL" in task["data"]
    assert task["trains_from_files"] and task["retrains_from_corrections"] and task["evaluates"]

    folder = tmp_path / "docs"
    folder.mkdir()
    for i, text in enumerate(URGENT + NORMAL):
        (folder / f"{i}.txt").write_text(text, encoding="utf-8")
    docs = {d["name"]: d["id"] for d in env.json("ingest", str(folder))}
    assert "urgency (cue words): urgent" in env.run("show", str(docs["0.txt"])).stdout

    # corrections: the fixed labels, matched without regard to case; others refused
    c = env.json("correct", str(docs["2.txt"]), "--task", "urgency", "--label", "URGENT")
    assert c["value"] == {"label": "urgent"} and c["previous"]["label"] in ("urgent", "normal")
    bad = env.run("correct", str(docs["2.txt"]), "--task", "urgency", "--label", "soon", check=False)
    assert bad.returncode == 1 and "use urgent or normal" in bad.stderr
    review = subprocess.run(
        [sys.executable, "-m", "workflowd", "review", "--task", "urgency"],
        input="a\n", env=env.env, capture_output=True, text=True, timeout=120,
    )
    assert review.returncode == 0 and "1 answer(s) stored" in review.stdout, review.stdout + review.stderr

    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": lb}) + "\n"
                            for texts, lb in ((URGENT, "urgent"), (NORMAL, "normal")) for t in texts))
    assert env.json("eval", "--task", "urgency", "--data", str(data))["model_version"] == "cue words"
    trained = env.json("train", "--task", "urgency", "--data", str(data))
    assert trained["version"] == "v1" and trained["status"] == "promoted"
    result = env.json("eval", "--task", "urgency", "--data", str(data))
    assert result["model_version"] == "v1" and result["metrics"]["accuracy"] == 1.0
    builtin = env.json("eval", "--task", "urgency", "--data", str(data), "--version", "cue words")
    assert builtin["model_version"] == "cue words"  # the built-in model by its own name

    for name in ("3.txt", "4.txt", "5.txt", "6.txt", "7.txt"):  # six documents corrected at least
        label = "urgent" if name == "3.txt" else "normal"
        env.run("correct", str(docs[name]), "--task", "urgency", "--label", label)
    retrained = env.json("train", "--task", "urgency")
    assert retrained["version"] == "v2" and retrained["meta"]["comparison"]["measured_by"] == "cross-validation"
    assert retrained["meta"]["data"]["corrections"] >= 6 and retrained["reason"]
    assert {v["task"] for v in env.json("models", "list")} == {"urgency"}

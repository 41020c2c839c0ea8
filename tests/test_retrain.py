"""Retraining classify from corrections: promoted when it measures no worse, rejected otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Env, base_config
from tests.training.test_classify import TOPIC_LABELS as LABELS
from tests.training.test_classify import TOPICS
from workflowd.store import now_iso

# The contradictory round: new documents that are near copies of the first ones, filed under
# the wrong topic (sport as food, money as sport, food as money), two for each.
ROTATED = {"sport": "food", "money": "sport", "food": "money"}
WRONG = {
    wrong: [variant for text in TOPICS[right] for variant in (f"{text} Really.", f"So: {text}")]
    for right, wrong in ROTATED.items()
}


def _teach(env: Env, folder: Path, texts: dict[str, list[str]]) -> None:
    """Ingest the texts, then correct each with its label (imported at once, as from an export)."""
    folder.mkdir()
    names = {}
    for label, items in texts.items():
        for i, text in enumerate(items):
            (folder / f"{label}-{i}.txt").write_text(text, encoding="utf-8")
            names[f"{label}-{i}.txt"] = label
    rows = [{"task": "classify", "value": {"label": names[d["name"]]}, "created_at": now_iso(), "sha256": d["sha256"]}
            for d in env.json("ingest", str(folder))]
    (folder / "teaching.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert env.json("corrections", "import", str(folder / "teaching.jsonl"))["added"] == len(rows)


# v1's held-out corrections are two documents: too few for the sign test to tell anything
# (training.gate), so this test asks for the strict gate, where any drop rejects.
STRICT = """
[training]
significance = 1.0
"""


@pytest.fixture
def env(wf_env: Env) -> Env:
    wf_env.write_config(base_config(wf_env.data_dir, wf_env.inbox) + LABELS + STRICT)
    return wf_env


def test_retrain_promotes_then_rejects_contradictory_corrections(env: Env, tmp_path: Path) -> None:
    few = env.run("train", "--task", "classify", check=False)
    assert few.returncode == 1 and "needs at least 6 corrections" in few.stderr
    _teach(env, tmp_path / "a", TOPICS)

    first = env.json("train", "--task", "classify")
    assert first["version"] == "v1" and first["promoted"] and first["status"] == "promoted"
    comparison = first["meta"]["comparison"]
    assert comparison["current_version"] == "zero-shot" and comparison["held_out"]["n"] >= 2
    assert comparison["held_out"]["candidate"] >= comparison["held_out"]["current"]
    assert first["meta"]["data"]["corrections"] == 18

    _teach(env, tmp_path / "b", WRONG)
    second = env.json("train", "--task", "classify")
    assert second["version"] == "v2" and not second["promoted"] and second["status"] == "rejected"
    assert "worse on the corrections the model in use was validated on" in second["reason"]
    prev = second["meta"]["comparison"]["previous_validation"]
    assert prev["current"] > prev["candidate"] and prev["worse"] and prev["losses"] > prev["wins"]
    versions = {v["version"]: v["status"] for v in env.json("models", "list")}
    assert versions == {"v1": "promoted", "v2": "rejected"}
    human = env.run("models", "list").stdout
    assert "rejected" in human and "held-out" in human, human

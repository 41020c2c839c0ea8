"""Retraining classify from corrections: promoted when it measures better, rejected when new
corrections contradict what it learnt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Env, base_config
from tests.training.test_classify import TOPIC_LABELS as LABELS
from tests.training.test_classify import TOPICS
from workflowd.store import now_iso

# The owner files food under a label of their own, one the descriptions do not know.
OWNER = {"sport": "sport", "money": "money", "food": "cooking"}
# The contradictory round: new documents that are near copies of the first ones, filed under
# the wrong topic (sport as cooking, money as sport, food as money), two for each.
ROTATED = {"sport": "cooking", "money": "sport", "food": "money"}
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


@pytest.fixture
def env(wf_env: Env) -> Env:
    wf_env.write_config(base_config(wf_env.data_dir, wf_env.inbox) + LABELS)
    return wf_env


def test_retrain_promotes_then_rejects_contradictory_corrections(env: Env, tmp_path: Path) -> None:
    few = env.run("train", "--task", "classify", check=False)
    assert few.returncode == 1 and "needs at least 6 corrections" in few.stderr
    _teach(env, tmp_path / "a", {OWNER[topic]: texts for topic, texts in TOPICS.items()})

    first = env.json("train", "--task", "classify")
    assert first["version"] == "v1" and first["promoted"] and first["status"] == "promoted", first["reason"]
    comparison = first["meta"]["comparison"]
    assert comparison["current_version"] == "zero-shot" and comparison["measured_by"] == "cross-validation"
    held = comparison["held_out"]
    assert held["n"] == 18 and held["wins"] >= 4 and held["losses"] == 0 and held["better"]
    assert first["meta"]["data"]["corrections"] == 18
    assert {"sport", "money", "food", "cooking"} == set(first["meta"]["labels"])  # food is still known

    _teach(env, tmp_path / "b", WRONG)
    second = env.json("train", "--task", "classify")
    assert second["version"] == "v2" and not second["promoted"] and second["status"] == "rejected"
    # the contradiction shows on the corrections v1 learnt from: the candidate loses there and
    # wins nothing (whether that alone is significant depends on how many it loses of 18)
    learned = second["meta"]["comparison"]["learned"]
    assert learned["n"] == 18 and learned["losses"] >= 3 and learned["wins"] == 0, learned
    if learned["worse"]:
        assert "worse on the corrections v1 learnt from" in second["reason"], second["reason"]
    else:
        assert "not measurably better than v1" in second["reason"], second["reason"]
    versions = {v["version"]: v["status"] for v in env.json("models", "list")}
    assert versions == {"v1": "promoted", "v2": "rejected"}
    human = env.run("models", "list").stdout
    assert "rejected" in human and "held-out" in human, human
    # the built-in model stays measurable whatever is promoted
    data = tmp_path / "eval.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": topic}) + "\n" for topic, ts in TOPICS.items() for t in ts))
    assert env.json("eval", "--task", "classify", "--data", str(data), "--version", "zero-shot")["model_version"] \
        == "zero-shot"

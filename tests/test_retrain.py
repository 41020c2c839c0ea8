"""Retraining classify from corrections: promoted when it measures no worse, rejected otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Env, base_config
from tests.training.test_classify import TOPICS

LABELS = """
[pipelines.default]
steps = ["classify"]
[steps.classify.labels]
sport = "sport, games and athletes"
money = "money, banks and markets"
food = "food, cooking and restaurants"
"""

# New documents of each topic for the contradictory round, labelled with the wrong topic.
TEAMS = ["Rovers", "United", "City", "Athletic", "Wanderers", "Albion", "Rangers", "Villa", "Town", "Hotspur",
         "Palace", "Forest"]
BANKS = ["Northbank", "Eastfield", "Crown", "Harbour", "Summit", "Pioneer", "Granite", "Beacon", "Meridian",
         "Atlas", "Sterling", "Orchard"]
DISHES = ["leeks", "carrots", "lentils", "mushrooms", "peppers", "aubergines", "beans", "onions", "parsnips",
          "shallots", "courgettes", "spinach"]
WRONG = {
    "food": [f"The {t} striker scored a late goal and the team won the league match." for t in TEAMS],
    "sport": [f"{b} Bank raised its interest rate and its shares fell on the stock market." for b in BANKS],
    "money": [f"Fry the {d} in butter, add garlic and simmer the sauce for ten minutes." for d in DISHES],
}


def _ingest(env: Env, folder: Path, texts: dict[str, list[str]]) -> dict[int, str]:
    """Ingest the texts; document id -> the label to correct it with."""
    folder.mkdir()
    names = {}
    for label, items in texts.items():
        for i, text in enumerate(items):
            (folder / f"{label}-{i}.txt").write_text(text, encoding="utf-8")
            names[f"{label}-{i}.txt"] = label
    docs = env.json("ingest", str(folder))
    return {d["id"]: names[d["name"]] for d in docs}


@pytest.fixture
def env(wf_env: Env) -> Env:
    wf_env.write_config(base_config(wf_env.data_dir, wf_env.inbox) + LABELS)
    return wf_env


def test_retrain_promotes_then_rejects_contradictory_corrections(env: Env, tmp_path: Path) -> None:
    few = env.run("train", "--task", "classify", check=False)
    assert few.returncode == 1 and "needs at least 6 corrections" in few.stderr
    for doc_id, label in _ingest(env, tmp_path / "a", TOPICS).items():
        env.run("correct", str(doc_id), "--label", label)

    first = env.json("train", "--task", "classify")
    assert first["version"] == "v1" and first["promoted"] and first["status"] == "promoted"
    comparison = first["meta"]["comparison"]
    assert comparison["current_version"] == "zero-shot" and comparison["held_out"]["candidate"]["n"] >= 2
    assert comparison["held_out"]["candidate"]["accuracy"] >= comparison["held_out"]["current"]["accuracy"]
    assert first["meta"]["data"]["corrections"] == 18

    for doc_id, label in _ingest(env, tmp_path / "b", WRONG).items():
        env.run("correct", str(doc_id), "--label", label)
    second = env.json("train", "--task", "classify")
    assert second["version"] == "v2" and not second["promoted"] and second["status"] == "rejected"
    assert "worse on the previous validation data" in second["reason"]
    prev = second["meta"]["comparison"]["previous_validation"]
    assert prev["current"]["accuracy"] > prev["candidate"]["accuracy"]
    versions = {v["version"]: v["status"] for v in env.json("models", "list")}
    assert versions == {"v1": "promoted", "v2": "rejected"}
    human = env.run("models", "list").stdout
    assert "rejected" in human

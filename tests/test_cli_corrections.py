"""`workflowd correct` and `corrections list|export|import`, as a script would use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Env, base_config, make_env

PIPELINE = """
[pipelines.default]
steps = ["classify", "entities"]
[steps.entities]
types = ["DATE", "MONEY"]
"""

LETTER = "Tax assessment 2025.\n\nAnna Schmidt owes 120 EUR to the Berlin tax office. Pay by 1 March 2027."


def _ingested(env: Env, pipeline: str) -> Env:
    env.write_config(base_config(env.data_dir, env.inbox) + pipeline)
    (env.root / "letter.txt").write_text(LETTER, encoding="utf-8")
    (env.root / "note.txt").write_text("Lunch with Tom on Friday?", encoding="utf-8")
    env.run("ingest", str(env.root / "letter.txt"), str(env.root / "note.txt"))
    return env


@pytest.fixture
def env(wf_env: Env) -> Env:
    return _ingested(wf_env, PIPELINE)


@pytest.fixture(scope="module")
def plain_env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    """Documents without model steps (fast), shared by the refusal cases: none of them writes."""
    return _ingested(make_env(tmp_path_factory.mktemp("plain")), "[pipelines.default]\nsteps = []\n")


def test_corrections_of_each_task_keep_what_the_model_said(env: Env) -> None:
    c = env.json("correct", "1", "--task", "classify", "--label", "tax", "--by", "anna")
    assert c["value"] == {"label": "tax"} and c["task"] == "classify" and c["author"] == "anna"
    assert c["model_version"] == "zero-shot" and 0 < c["confidence"] <= 1
    assert c["previous"]["best_guess"] in c["previous"]["scores"]
    assert c["document_id"] == 1 and len(c["sha256"]) == 64 and c["created_at"].endswith("Z")

    c = env.json(
        "correct", "1", "--task", "entities", "--entity", "PER=Anna Schmidt", "--entity", "LOC:55-61"
    )
    assert c["value"]["entities"] == [
        {"type": "PER", "start": 22, "end": 34, "text": "Anna Schmidt"},
        {"type": "LOC", "start": 55, "end": 61, "text": "Berlin"},
    ]
    assert {e["type"] for e in c["previous"]["entities"]} == {"DATE", "MONEY"}
    assert env.json("correct", "2", "--task", "entities", "--no-entities")["value"] == {"entities": []}

    c = env.json("correct", "1", "--task", "summarize", "--sentences", "1")
    assert c["value"] == {"sentences": [1], "summary": "Anna Schmidt owes 120 EUR to the Berlin tax office."}
    c = env.json("correct", "1", "--task", "summarize", "--summary", "Pay by 1 March 2027.")
    assert c["value"]["sentences"] == [2] and c["previous"] is None  # summarize is not in this pipeline
    assert env.json("correct", "2", "--task", "sentiment", "--label", "POS")["value"] == {"label": "positive"}
    human = env.run("correct", "2", "--task", "classify", "--label", "personal").stdout
    assert "document 2, classify" in human and '"personal"' in human
    assert len(env.json("corrections", "list")) == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["9", "--label", "tax"], "no document with id 9"),
        (["1", "--task", "sentiment", "--label", "angry"], "use negative, neutral or positive"),
        (["1", "--task", "entities", "--entity", "PER=Nobody Here"], "is not in the document's text"),
        (["1", "--task", "entities", "--entity", "PER:0-999"], "offsets outside the text"),
        (["1", "--task", "entities", "--entity", "PER=Anna Schmidt", "--entity", "PER=Schmidt"], "overlap"),
        (["1", "--task", "summarize", "--sentences", "7"], "sentence numbers run from 0 to 2"),
        (["1", "--task", "summarize", "--summary", "Not a sentence of it."], "made of the document's own"),
        (["1", "--task", "classify"], "needs a label"),
    ],
)
def test_corrections_that_do_not_fit_are_refused(plain_env: Env, args: list[str], message: str) -> None:
    proc = plain_env.run("correct", *args, check=False)
    assert proc.returncode == 1 and message in proc.stderr
    assert plain_env.json("corrections", "list") == []


def test_export_then_import_on_another_machine(env: Env, tmp_path: Path) -> None:
    env.run("correct", "1", "--task", "classify", "--label", "tax")
    env.run("correct", "2", "--task", "sentiment", "--label", "neutral")
    out = tmp_path / "teaching.jsonl"
    assert "2 correction(s) written" in env.run("corrections", "export", "-o", str(out)).stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["task"] for r in rows] == ["classify", "sentiment"] and rows[0]["text"] == LETTER
    assert env.run("corrections", "export").stdout == out.read_text()  # stdout by default

    other = make_env(tmp_path / "other")
    assert other.json("corrections", "import", str(out)) == {"added": 2, "skipped": 0}
    assert other.json("corrections", "import", str(out)) == {"added": 0, "skipped": 2}
    listed = other.json("corrections", "list")
    assert [(r["task"], r["value"], r["origin"], r["document_id"]) for r in listed] == [
        ("classify", {"label": "tax"}, "import", None),
        ("sentiment", {"label": "neutral"}, "import", None),
    ]
    assert listed[0]["text"] == LETTER and listed[0]["created_at"] == rows[0]["created_at"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task": "classify"}\n')
    proc = other.run("corrections", "import", str(bad), check=False)
    assert proc.returncode == 1 and "line 1: expected an exported correction" in proc.stderr

"""`workflowd train | eval --task summarize` through the CLI, on a slice of BBC News."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Env, shared_data

pytestmark = pytest.mark.slow


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps({"text": r["text"], "summary": r["summary"]}) + "\n" for r in rows))
    return path


def test_eval_shipped_then_train_then_eval(wf_env: Env, tmp_path: Path) -> None:
    rows = [
        json.loads(line) for line in (shared_data("bbc_news_summary") / "train.jsonl").open(encoding="utf-8")
    ]
    train, held_out = _write(tmp_path / "train.jsonl", rows[:40]), _write(tmp_path / "eval.jsonl", rows[-20:])
    before = wf_env.json("eval", "--task", "summarize", "--data", str(held_out))
    assert before["task"] == "summarize" and before["n"] == 20 and before["model_version"] == "shipped"
    assert set(before["metrics"]) == {"rouge1", "rouge2", "rougeL"}
    assert all(0.3 < v <= 1 for v in before["metrics"].values())
    one = wf_env.json("eval", "--task", "summarize", "--data", str(held_out), "--sentences", "1")
    assert one["metrics"]["rouge1"] < before["metrics"]["rouge1"]

    human = wf_env.run("train", "--task", "summarize", "--data", str(train)).stdout
    assert "summarize v1: promoted" in human and "ROUGE-2" in human
    after = wf_env.json("eval", "--task", "summarize", "--data", str(held_out))
    assert after["model_version"] == "v1" and after["metrics"]["rouge2"] > 0.3
    listed = wf_env.json("models", "list")
    assert [(v["task"], v["version"]) for v in listed] == [("summarize", "v1")]


def test_summaries_that_are_not_from_the_text_are_refused(wf_env: Env, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "One sentence. Another one.", "summary": "Something else entirely."}\n')
    proc = wf_env.run("train", "--task", "summarize", "--data", str(path), check=False)
    assert proc.returncode == 1 and "share no sentence with their texts" in proc.stderr
    path.write_text('{"text": "no summary"}\n')
    proc = wf_env.run("eval", "--task", "summarize", "--data", str(path), check=False)
    assert proc.returncode == 1 and '"text" and "summary" strings' in proc.stderr

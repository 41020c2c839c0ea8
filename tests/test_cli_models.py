"""train, eval and models through the CLI; a running daemon follows promotions and rollbacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Env, base_config
from tests.daemon.helpers import all_settled, query, wait_for
from tests.training.test_classify import TOPIC_LABELS as LABELS
from tests.training.test_classify import TOPICS


def _write_data(path: Path, copies: int = 4) -> Path:
    with path.open("w") as fh:
        for _ in range(copies):
            for label, texts in TOPICS.items():
                for t in texts:
                    fh.write(json.dumps({"text": t, "label": label}) + "\n")
    return path


@pytest.fixture
def env(wf_env: Env) -> Env:
    wf_env.write_config(base_config(wf_env.data_dir, wf_env.inbox) + LABELS)
    return wf_env


def test_eval_zero_shot_then_train_then_eval_and_list(env: Env, tmp_path: Path) -> None:
    data = _write_data(tmp_path / "train.jsonl")
    before = env.json("eval", "--task", "classify", "--data", str(data))
    assert before["task"] == "classify" and before["n"] == 72 and before["model_version"] == "zero-shot"
    m = before["metrics"]
    assert set(m) >= {"accuracy", "macro_f1", "precision", "recall", "per_class", "abstention"}
    assert all(0 <= m[k] <= 1 for k in ("accuracy", "macro_f1", "precision", "recall"))
    assert m["per_class"]["sport"]["support"] == 24

    version = env.json("train", "--task", "classify", "--data", str(data), "--epochs", "20")
    assert version["version"] == "v1" and version["status"] == "promoted"
    assert version["meta"]["data"]["n"] == 72 and version["metrics"]["accuracy"] >= 0.9

    after = env.json("eval", "--task", "classify", "--data", str(data))
    assert after["model_version"] == "v1" and after["metrics"]["accuracy"] >= 0.95

    listed = env.json("models", "list")
    assert [(v["task"], v["version"], v["status"]) for v in listed] == [("classify", "v1", "promoted")]
    human = env.run("train", "--data", str(data), "--epochs", "5", "--no-promote").stdout
    assert "classify v2: registered, not promoted" in human
    assert "v2" in env.run("models", "list").stdout


def test_eval_with_labels_the_model_does_not_know(env: Env, tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text('{"text": "a poem", "label": "poetry"}\n')
    proc = env.run("eval", "--data", str(path), check=False)
    assert proc.returncode == 1 and "does not know: poetry" in proc.stderr


def test_rollback_with_nothing_to_roll_back(env: Env) -> None:
    proc = env.run("models", "rollback", "classify", check=False)
    assert proc.returncode == 1 and "nothing to roll back" in proc.stderr


@pytest.mark.slow
def test_running_daemon_uses_a_promoted_model_and_a_rollback_without_restart(env: Env, tmp_path: Path) -> None:
    env.run("start", timeout=120)
    try:
        def drop_and_result(name: str, text: str, n: int) -> dict:
            (env.inbox / name).write_text(text)
            wait_for(lambda: all_settled(env, n), 90, name)
            row = query(env, "SELECT r.data, r.model_version FROM step_results r JOIN documents d"
                             " ON d.id = r.document_id WHERE d.name = ? AND r.step = 'classify'", (name,))
            return {**json.loads(row[0]["data"]), "model_version": row[0]["model_version"]}

        first = drop_and_result("a.txt", "The striker scored a late goal to win the cup final.", 1)
        assert first["model_version"] == "zero-shot" and first["best_guess"] == "sport"

        env.run("train", "--data", str(_write_data(tmp_path / "train.jsonl")), "--epochs", "20")
        second = drop_and_result("b.txt", "Shares in the bank fell as profits dropped.", 2)
        assert second["model_version"] == "v1" and second["best_guess"] == "money"

        env.run("models", "rollback", "classify")
        third = drop_and_result("c.txt", "Fry the onions in butter until golden.", 3)
        assert third["model_version"] == "zero-shot" and third["best_guess"] == "food"
        assert env.json("status")["running"]
    finally:
        env.run("stop")

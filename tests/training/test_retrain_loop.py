"""The retraining loop itself, with a stand-in model: what it trains on and what it compares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import workflowd.training.retrain as retrain_mod
from workflowd.config import Settings
from workflowd.store import Store
from workflowd.training.retrain import Candidate, Example, TaskRetrainer, retrain


def test_the_previous_held_out_corrections_are_never_trained_on(tmp_path: Path, monkeypatch) -> None:
    settings = Settings(data_dir=tmp_path)
    store = Store(settings.db_path)

    def teach(numbers: range) -> None:
        for i in numbers:
            store.corrections.add("classify", {"label": "ab"[i % 2]}, text=f"text {i}", sha256=f"key-{i}")

    trained_on: list[set[str]] = []

    class StandIn(TaskRetrainer):
        task = "classify"

        def current(self) -> tuple[Any, str]:
            return "current", "stand-in"

        def train(self, train: list[Example], current: Any) -> Candidate:
            trained_on.append({e.key for e in train})
            return Candidate("candidate", lambda folder, meta: (folder / "model").write_text("x"), {}, {})

        def scores(self, model: Any, examples: list[Example]) -> list[float]:
            return [1.0] * len(examples)  # never worse: always promoted

    monkeypatch.setattr(retrain_mod, "retrainers", lambda: {"classify": StandIn})
    teach(range(8))
    first = retrain(settings, "classify")
    held = set(first.version.meta["holdout_keys"])
    assert first.promoted and held and not held & trained_on[0]
    teach(range(8, 120))  # with many more, other documents are held out
    second = retrain(settings, "classify")
    assert second.promoted and second.comparison["previous_validation"]["n"] == len(held)
    assert not held & trained_on[1], "the previous validation data must stay unseen"
    assert not set(second.version.meta["holdout_keys"]) & trained_on[1]
    assert len(trained_on[1]) == 120 - len(held | set(second.version.meta["holdout_keys"]))


def test_too_few_corrections_is_a_clear_error(tmp_path: Path) -> None:
    from workflowd.errors import ModelError

    with pytest.raises(ModelError, match="needs at least 6 corrections; there are 0"):
        retrain(Settings(data_dir=tmp_path), "sentiment")

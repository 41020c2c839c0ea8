"""The retraining loop itself, with a stand-in model: what it trains on, what it measures on,
and when the evidence is enough to promote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workflowd.config import Settings
from workflowd.models.provider import ModelProvider
from workflowd.store import Store
from workflowd.training.retrain import Candidate, Example, TaskRetrainer, folds, retrain, split_keys


def _teach(store: Store, numbers: range, task: str = "classify") -> None:
    for i in numbers:
        store.corrections.add(task, {"label": "ab"[i % 2]}, text=f"text {i}", sha256=f"key-{i}")


class StandIn(TaskRetrainer):
    """A model that scores ``candidate_score`` on every example (the one in use ``current_score``)."""

    task = "classify"
    candidate_score = 1.0
    current_score = 0.0
    trained_on: list[set[str]] = []

    def current(self) -> tuple[Any, str]:
        return "current", "stand-in"

    def train(self, train: list[Example], current: Any, progress: Any = None) -> Candidate:
        self.trained_on.append({e.key for e in train})
        return Candidate("candidate", lambda folder, meta: (folder / "model").write_text("x"), {}, {})

    def scores(self, model: Any, examples: list[Example]) -> list[float]:
        value = self.candidate_score if model == "candidate" else self.current_score
        return [value] * len(examples)


def _retrainer(settings: Settings, cls: type[StandIn] = StandIn) -> StandIn:
    cls.trained_on = []
    return cls(settings, ModelProvider(settings))


def test_held_out_corrections_are_never_trained_on(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    store = Store(settings.db_path)
    _teach(store, range(12))
    r = _retrainer(settings)
    first = retrain(settings, r)
    held = set(first.version.meta["holdout_keys"])
    assert first.promoted and len(held) >= 5 and not held & r.trained_on[0]
    assert first.comparison["measured_by"] == "held-out share" and first.comparison["held_out"]["n"] == len(held)
    _teach(store, range(12, 120))  # with many more, other documents are held out too
    r = _retrainer(settings)
    second = retrain(settings, r)
    assert second.promoted and held <= set(second.version.meta["holdout_keys"])
    assert not held & r.trained_on[0], "the previous validation data must stay unseen"
    assert len(r.trained_on[0]) == 120 - len(second.version.meta["holdout_keys"])


def test_one_of_four_is_no_evidence(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, training={"min_held_out": 4})
    store = Store(settings.db_path)
    _teach(store, range(8))

    class OneBetter(StandIn):
        def scores(self, model: Any, examples: list[Example]) -> list[float]:
            if model == "candidate":
                return [1.0] + [0.5] * (len(examples) - 1)  # better on one, the same on the rest
            return [0.5] * len(examples)

    result = retrain(settings, _retrainer(settings, OneBetter))
    assert not result.promoted and result.version.status == "rejected"
    assert "not measurably better than stand-in on 4 held-out corrections (1 better, 0 worse" in result.reason


def test_too_little_held_out_is_not_evidence(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, training={"min_held_out": 30})
    store = Store(settings.db_path)
    _teach(store, range(10))
    result = retrain(settings, _retrainer(settings))
    assert not result.promoted and "too little evidence: measured on 5 held-out corrections" in result.reason


def test_cross_validation_measures_every_fair_correction_and_trains_on_all(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    store = Store(settings.db_path)
    _teach(store, range(10))

    class CrossValidated(StandIn):
        cross_validate = True

    r = _retrainer(settings, CrossValidated)
    first = retrain(settings, r)
    assert first.promoted and first.comparison["held_out"]["n"] == 10
    *fold_runs, final = r.trained_on
    assert len(fold_runs) == 5 and all(len(keys) == 8 for keys in fold_runs) and len(final) == 10
    assert sorted(first.version.meta["trained_keys"]) == sorted(final)
    # the model in use learnt from all ten: only the new corrections can measure the next one
    _teach(store, range(10, 16))
    r = _retrainer(settings, CrossValidated)
    second = retrain(settings, r)
    assert second.comparison["held_out"]["n"] == 6 and second.promoted


def test_a_candidate_the_task_refuses_is_rejected_with_the_reason(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    _teach(Store(settings.db_path), range(12))

    class Refused(StandIn):
        def refuse(self, candidate: Any, current: Any) -> str | None:
            return "it drops label(s) invoice"

    result = retrain(settings, _retrainer(settings, Refused))
    assert not result.promoted and result.reason.startswith("it drops label(s) invoice")


def test_folds_and_split_are_fixed() -> None:
    keys = [f"k{i}" for i in range(23)]
    assert folds(keys) == folds(list(reversed(keys)))
    assert sorted(k for f in folds(keys) for k in f) == sorted(keys) and len(folds(keys)) == 5
    assert split_keys(keys) == split_keys(keys[::-1]) and len(split_keys(keys[:6])) == 3


def test_too_few_corrections_is_a_clear_error(tmp_path: Path) -> None:
    from workflowd.errors import ModelError

    settings = Settings(data_dir=tmp_path)
    with pytest.raises(ModelError, match="needs at least 6 corrections; there are 0"):
        retrain(settings, _retrainer(settings))

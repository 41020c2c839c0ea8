"""Pipelines.warm_up: the shared encoder when a step needs it, then each step; a failure is that step's."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from workflowd.config import Settings
from workflowd.pipeline import Pipelines, StepContext, StepRegistry
from workflowd.pipeline.step import EMBEDDING, Step, StepResult

CALLS: list[str] = []


class Warm(Step):
    name = "warm"

    def warm_up(self) -> None:
        CALLS.append("warm")

    def run(self, doc):
        return StepResult({})


class Broken(Step):
    name = "broken"

    def warm_up(self) -> None:
        raise RuntimeError("cannot load my model")

    def run(self, doc):
        return StepResult({})


class Embedded(Warm):
    name = "embedded"
    needs = frozenset({EMBEDDING})


class CountingModels:
    """Stands for ModelProvider: counts the loads of the shared encoder."""

    def __init__(self) -> None:
        self.loads = 0

    @property
    def encoder(self) -> object:
        self.loads += 1
        return object()


def pipelines(tmp_path: Path, steps: list[str]) -> tuple[Pipelines, CountingModels]:
    settings = Settings(data_dir=tmp_path, pipelines={"default": {"steps": steps}})
    registry = StepRegistry()
    for cls in (Warm, Broken, Embedded):
        registry.add(cls, origin="test")
    models = CountingModels()
    context = StepContext(settings=settings, logger=logging.getLogger("test"), models=models)  # type: ignore[arg-type]
    return Pipelines(settings, registry, context), models


def test_each_step_warms_up_and_a_failure_is_logged_without_stopping_the_others(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    CALLS.clear()
    p, models = pipelines(tmp_path, ["broken", "warm"])
    with caplog.at_level(logging.ERROR):
        p.warm_up()
    assert CALLS == ["warm"]
    assert models.loads == 0  # no step needs the encoder
    assert "warm-up of step broken failed" in caplog.text and "cannot load my model" in caplog.text


def test_the_shared_encoder_is_loaded_when_a_step_needs_it(tmp_path: Path) -> None:
    CALLS.clear()
    p, models = pipelines(tmp_path, ["embedded"])
    p.warm_up()
    assert models.loads == 1 and CALLS == ["warm"]


def test_the_default_step_warm_up_does_nothing(tmp_path: Path) -> None:
    assert Step.warm_up(Warm(None, None)) is None  # type: ignore[arg-type]


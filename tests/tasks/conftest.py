"""A step context with the session's shared encoder and a throwaway data dir."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from workflowd.config import Settings
from workflowd.models.provider import ModelProvider
from workflowd.pipeline import StepContext


@pytest.fixture
def context(tmp_path: Path, encoder) -> StepContext:  # noqa: ANN001
    settings = Settings(data_dir=tmp_path / "data")
    models = ModelProvider(settings)
    models._encoder = encoder  # the session's shared encoder
    return StepContext(settings=settings, logger=logging.getLogger("test"), models=models)

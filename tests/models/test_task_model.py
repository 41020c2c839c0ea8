"""A saved entity or sentiment model reads the shared multi-task pass (the shipped heads) or
its own adapter over the encoder (a trained one): one loader serves both tasks."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflowd.config import ModelSettings
from workflowd.errors import ModelError
from workflowd.models.encoder import Encoder
from workflowd.models.multitask import task_model
from workflowd.ner.tagger import load_tagger
from workflowd.sentiment.model import load_sentiment

ARTIFACTS = Path(__file__).resolve().parents[2] / "workflowd" / "artifacts"


def test_a_shipped_head_reads_the_shared_pass_itself(encoder: Encoder) -> None:
    assert task_model(encoder, ARTIFACTS / "entities", {"shared": True}, "entity tagger", "entities") is encoder.model
    assert load_tagger(ARTIFACTS / "entities", encoder).model is encoder.model
    assert load_sentiment(ARTIFACTS / "sentiment", encoder).model is encoder.model


@pytest.mark.parametrize(("folder", "load", "task"), [("entities", load_tagger, "entities"),
                                                       ("sentiment", load_sentiment, "sentiment")])
def test_a_shipped_head_on_another_base_says_to_train_one(encoder: Encoder, folder, load, task) -> None:  # noqa: ANN001
    plain = Encoder(ModelSettings(base=encoder.source))  # the original all-MiniLM-L6-v2, by its folder
    with pytest.raises(ModelError, match=rf"reads the bundled multi-task encoder.*workflowd train --task {task}"):
        load(ARTIFACTS / folder, plain)


def test_a_trained_model_without_its_adapter_is_a_clear_error(encoder: Encoder, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"cannot load the sentiment model in .*"):
        task_model(encoder, tmp_path, {}, "sentiment model", "sentiment")

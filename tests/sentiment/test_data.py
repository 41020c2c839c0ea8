"""Sentiment data files: SST-2 TSV, Financial PhraseBank TSV, JSONL; labels read the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import shared_data
from workflowd.sentiment import load_sentiment_file
from workflowd.training.data import DataError


def test_sst2_tsv_is_binary() -> None:
    data = load_sentiment_file(shared_data("sst2") / "train.tsv")
    assert len(data) == 67349 and data.binary
    assert data.texts[0] == "hide new secretions from the parental units"
    assert data.labels[0] == "negative"
    assert data.labels.count("positive") == 37569


def test_phrasebank_tsv_has_three_labels() -> None:
    data = load_sentiment_file(shared_data("financial_phrasebank") / "sentences_allagree.train.tsv")
    assert len(data) == 1810 and not data.binary
    assert {label: data.labels.count(label) for label in set(data.labels)} == {
        "negative": 244,
        "neutral": 1117,
        "positive": 449,
    }


def test_jsonl_labels_and_errors(tmp_path: Path) -> None:
    f = tmp_path / "s.jsonl"
    f.write_text(
        '{"text": "good", "label": 1}\n{"text": "bad", "label": "NEG"}\n{"text": "so so", "label": "neutral"}\n'
    )
    data = load_sentiment_file(f)
    assert data.labels == ["positive", "negative", "neutral"] and not data.binary
    f.write_text('{"text": "good", "label": "great"}\n')
    with pytest.raises(DataError, match=r"line 1: label 'great' is not one of negative, neutral, positive"):
        load_sentiment_file(f)
    t = tmp_path / "s.tsv"
    t.write_text("words\tlabel\nfine\t1\n")
    with pytest.raises(DataError, match="'sentence' or 'text' column"):
        load_sentiment_file(t)

"""Sentiment data files: JSONL ``{"text", "label"}`` or TSV with a header (``sentence`` or
``text``, and ``label``), as SST-2 and the Financial PhraseBank come.

Labels are negative / neutral / positive; SST-2's ``0`` and ``1`` (and ``neg``/``pos``) are
read as negative and positive. A file without a neutral example is *binary*: training and
evaluation on it compare only the negative and positive scores.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..datafiles import read_jsonl
from ..errors import DataError

LABELS = ("negative", "neutral", "positive")
_ALIASES = {
    "negative": "negative",
    "neg": "negative",
    "0": "negative",
    "-1": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "positive": "positive",
    "pos": "positive",
    "1": "positive",
}


def normalise_label(label: object) -> str | None:
    return _ALIASES.get(str(label).strip().lower())


@dataclass
class SentimentData:
    texts: list[str]
    labels: list[str]
    sha256: str
    source: str
    three_way: bool = False  # neutral is a possible answer even if no example has it (corrections)

    @property
    def binary(self) -> bool:
        """Only negative or positive could be said (e.g. SST-2): neutral is not learnt from it."""
        return not self.three_way and "neutral" not in self.labels

    def __len__(self) -> int:
        return len(self.texts)


def load_sentiment_file(path: Path) -> SentimentData:
    path = Path(path)
    if path.suffix.lower() in (".tsv", ".csv"):
        return _load_table(path)
    rows, sha256 = read_jsonl(path)
    texts, labels = [], []
    for number, row in rows:
        label = normalise_label(row.get("label"))
        if label is None:
            raise DataError(
                f"{path}, line {number}: label {row.get('label')!r} is not one of "
                "negative, neutral, positive (or 0/1)"
            )
        texts.append(row["text"])
        labels.append(label)
    return SentimentData(texts, labels, sha256, path.name)


def _load_table(path: Path) -> SentimentData:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    lines = raw.decode("utf-8", errors="replace").splitlines()
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader(
        lines, delimiter=delimiter, quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    )
    fields = [f.strip() for f in reader.fieldnames or []]
    text_col = next((f for f in ("sentence", "text") if f in fields), None)
    if text_col is None or "label" not in fields:
        raise DataError(f"{path}: expected a header with a 'sentence' or 'text' column and a 'label' column")
    texts, labels = [], []
    for number, row in enumerate(reader, 2):
        row = {k.strip(): v for k, v in row.items() if k}
        label = normalise_label(row.get("label"))
        text = (row.get(text_col) or "").strip()
        if label is None:
            raise DataError(
                f"{path}, line {number}: label {row.get('label')!r} is not one of "
                "negative, neutral, positive (or 0/1)"
            )
        if text:
            texts.append(text)
            labels.append(label)
    if not texts:
        raise DataError(f"{path} holds no examples")
    return SentimentData(texts, labels, hashlib.sha256(raw).hexdigest(), path.name)

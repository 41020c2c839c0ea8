"""Training and evaluation data files, and fixed, stratified splits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datafiles import read_jsonl
from ..errors import DataError


@dataclass
class LabelledTexts:
    texts: list[str]
    labels: list[str]
    sha256: str  # of the file's bytes, recorded with the model it trains

    def __len__(self) -> int:
        return len(self.texts)


def load_labelled_jsonl(path: Path) -> LabelledTexts:
    """``{"text", "label"}`` per line (a ``title`` is put before the text; ``category`` is taken for ``label``)."""
    rows, sha256 = read_jsonl(path)
    texts, labels = [], []
    for number, row in rows:
        label = row.get("label", row.get("category"))
        if not isinstance(label, str) or not label:
            raise DataError(f'{path}, line {number}: expected a non-empty "label" string')
        text = row["text"]
        if isinstance(row.get("title"), str) and row["title"]:
            text = f"{row['title']}\n\n{text}"
        texts.append(text)
        labels.append(label)
    return LabelledTexts(texts, labels, sha256)


def stratified_split(
    labels: Sequence[str], share: float, seed: int, min_val: int = 5, min_train: int = 2
) -> tuple[list[int], list[int]]:
    """Indices (train, validation): ``share`` of each label held out, if the data is big enough.

    Nothing is held out (empty validation list) when some label would have fewer than
    ``min_val`` validation or ``min_train`` training examples: a handful of held-out
    examples make early stopping and calibration noise, and cost training data.
    """
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_label[label].append(i)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in sorted(by_label):
        idx = list(rng.permutation(by_label[label]))
        n_val = int(round(share * len(idx)))
        if n_val < min_val or len(idx) - n_val < min_train:
            return list(range(len(labels))), []
        val += idx[:n_val]
        train += idx[n_val:]
    return sorted(int(i) for i in train), sorted(int(i) for i in val)

"""Evaluation metrics, as fractions in [0, 1] (scikit-learn computes them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str | None]) -> dict[str, Any]:
    """Accuracy, macro precision/recall/F1 and a per-label table; None predictions count as wrong."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    labels = sorted(set(y_true))
    pred = ["\x00abstained" if p is None else p for p in y_pred]
    p, r, f, s = precision_recall_fscore_support(y_true, pred, labels=labels, zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, pred)),
        "macro_f1": float(f.mean()),
        "f1": float(f.mean()),
        "precision": float(p.mean()),
        "recall": float(r.mean()),
        "per_class": {
            label: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, label in enumerate(labels)
        },
    }

"""Temperature scaling (Guo et al., 2017): one number that makes confidences honest."""

from __future__ import annotations

import numpy as np


def nll(logits: np.ndarray, y: np.ndarray, temperature: float) -> float:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray, lo: float = 0.05, hi: float = 20.0) -> float:
    """The temperature that minimises the negative log-likelihood of held-out labels.

    Bounded: when every held-out example is right, the likelihood keeps growing as the
    temperature shrinks, and a few lucky examples must not make the model claim certainty.
    """
    if len(y) == 0:
        return 1.0
    grid = np.geomspace(lo, hi, 121)
    best = grid[int(np.argmin([nll(logits, y, t) for t in grid]))]
    fine = np.geomspace(best / 1.2, best * 1.2, 41)
    return float(fine[int(np.argmin([nll(logits, y, t) for t in fine]))])


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """How far confidence is from accuracy, averaged over confidence bins."""
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        mask = (conf > a) & (conf <= b)
        if mask.any():
            ece += mask.mean() * abs(conf[mask].mean() - correct[mask].mean())
    return float(ece)

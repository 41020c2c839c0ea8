"""Pieces every trainer shares: the anchored head, epoch reports, early stopping."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


@dataclass
class EpochReport:
    epoch: int
    epochs: int
    train_loss: float
    val_loss: float | None
    val_macro_f1: float | None
    seconds: float


Progress = Callable[[EpochReport], None]


class AnchoredHead(torch.nn.Module):
    """A linear head ``W0 + delta``: weight decay on delta pulls it back to the zero-shot weights.

    ``b0``: the starting bias (zero by default). ``frozen``: rows (labels) that keep their
    starting weight and bias whatever the examples say.
    """

    def __init__(self, w0: np.ndarray, dropout: float, b0: np.ndarray | None = None,
                 frozen: np.ndarray | None = None):
        super().__init__()
        self.register_buffer("w0", torch.tensor(w0, dtype=torch.float32))
        self.register_buffer("b0", torch.tensor(b0 if b0 is not None else np.zeros(w0.shape[0]), dtype=torch.float32))
        free = np.ones(w0.shape[0], dtype=np.float32) if frozen is None else 1.0 - np.asarray(frozen, np.float32)
        self.register_buffer("free", torch.tensor(free))
        self.delta = torch.nn.Parameter(torch.zeros_like(self.w0))
        self.bias = torch.nn.Parameter(torch.zeros(w0.shape[0]))
        self.dropout = torch.nn.Dropout(dropout)

    def weight(self) -> torch.Tensor:
        return self.w0 + self.delta * self.free[:, None]

    def full_bias(self) -> torch.Tensor:
        return self.b0 + self.bias * self.free

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(x) @ self.weight().T + self.full_bias()

    def export(self) -> tuple[np.ndarray, np.ndarray]:
        return self.weight().detach().cpu().numpy(), self.full_bias().detach().cpu().numpy()


class EarlyStopping:
    """Keeps the best state (lowest validation loss) and says when to stop."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best_loss = float("inf")
        self.best_state: Any = None
        self.best_epoch = 0
        self.bad = 0
        self.epochs = 0

    def update(self, loss: float, state: Callable[[], Any]) -> bool:
        """Record an epoch's validation loss; returns True when training should stop."""
        self.epochs += 1
        if loss < self.best_loss - 1e-4:
            self.best_loss, self.best_state, self.bad = loss, copy.deepcopy(state()), 0
            self.best_epoch = self.epochs
            return False
        self.bad += 1
        return self.bad > self.patience


class Anchor:
    """L2-SP: a penalty ``strength * sum((w - w0)^2)`` that keeps weights trained further close
    to where they started (the model in use), so that new examples move it no more than needed."""

    def __init__(self, params: list[torch.nn.Parameter], strength: float):
        self.strength = strength
        self.params = params if strength else []
        self.start = [p.detach().clone() for p in self.params]

    def penalty(self) -> torch.Tensor | float:
        if not self.strength:
            return 0.0
        pairs = zip(self.params, self.start, strict=True)
        return self.strength * sum(((p - p0) ** 2).sum() for p, p0 in pairs)


class BestEpoch:
    """Keeps the trainable weights of the epoch with the best validation score, and puts them
    back at the end (fine-tuned models: only the parameters that train are copied). A score
    counts as better when it beats the best by more than ``min_gain``."""

    def __init__(self, model: torch.nn.Module, head: torch.nn.Module, patience: int, min_gain: float = 0.0):
        self.model, self.head, self.patience, self.min_gain = model, head, patience, min_gain
        self.best, self.epoch, self.bad = float("-inf"), 0, 0
        self._state: dict[str, Any] | None = None

    def update(self, epoch: int, score: float | None) -> bool:
        """Record an epoch's score (None: no validation); returns True when training should stop."""
        if score is None:
            return False
        if score > self.best + self.min_gain:
            self.best, self.epoch, self.bad = score, epoch, 0
            self._state = {
                "model": {n: p.detach().clone() for n, p in self.model.named_parameters() if p.requires_grad},
                "head": copy.deepcopy(self.head.state_dict()),
            }
            return False
        self.bad += 1
        return self.bad > self.patience

    def restore(self) -> None:
        if self._state is None:
            return
        named = dict(self.model.named_parameters())
        with torch.no_grad():
            for n, value in self._state["model"].items():
                named[n].copy_(value)
        self.head.load_state_dict(self._state["head"])


def macro_f1(y: np.ndarray, pred: np.ndarray, n_labels: int) -> float:
    """Macro-F1 over the labels that occur (in truth or prediction); fast, for per-epoch reports."""
    f1s = []
    for c in range(n_labels):
        tp = int(((pred == c) & (y == c)).sum())
        fp = int(((pred == c) & (y != c)).sum())
        fn = int(((pred != c) & (y == c)).sum())
        if tp + fp + fn:
            f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s)) if f1s else 0.0

"""Training a head on frozen document embeddings: seconds on a CPU."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from .common import AnchoredHead, EarlyStopping, EpochReport, Progress, macro_f1

HEAD_PATIENCE_FACTOR = 5  # head epochs are tiny: allow more of them without progress


def train_head(
    X: np.ndarray,
    y: np.ndarray,
    train_idx: Sequence[int],
    val_idx: Sequence[int],
    w0: np.ndarray,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    dropout: float,
    patience: int,
    seed: int,
    report: Progress | None = None,
    b0: np.ndarray | None = None,
    frozen: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """(weight, bias, epochs) of an anchored head trained with AdamW, early-stopped on the
    validation loss; ``epochs`` is the best epoch (all of them without validation).
    ``b0`` and ``frozen``: see AnchoredHead."""
    torch.manual_seed(seed)
    head = AnchoredHead(w0, dropout, b0, frozen)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    Xt, yt = torch.tensor(X[list(train_idx)]), torch.tensor(y[list(train_idx)])
    Xv, yv = torch.tensor(X[list(val_idx)]), torch.tensor(y[list(val_idx)])
    g = torch.Generator().manual_seed(seed)
    stopper = EarlyStopping(patience * HEAD_PATIENCE_FACTOR)
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        head.train()
        total = 0.0
        for batch in torch.randperm(len(yt), generator=g).split(batch_size):
            opt.zero_grad()
            loss = F.cross_entropy(head(Xt[batch]), yt[batch])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(batch)
        val_loss = val_f1 = None
        if len(yv):
            head.eval()
            with torch.no_grad():
                logits = head(Xv)
            val_loss = float(F.cross_entropy(logits, yv))
            val_f1 = macro_f1(yv.numpy(), logits.argmax(1).numpy(), len(w0))
        if report:
            report(EpochReport(epoch, epochs, total / len(yt), val_loss, val_f1, time.perf_counter() - t0))
        if val_loss is not None and stopper.update(val_loss, head.state_dict):
            break
    if stopper.best_state is not None:
        head.load_state_dict(stopper.best_state)
        return (*head.export(), stopper.best_epoch)
    return (*head.export(), epochs)


def out_of_fold_logits(X: np.ndarray, y: np.ndarray, w0: np.ndarray, folds: int = 5, **kw) -> np.ndarray:  # noqa: ANN003
    """Each example's logits from a head trained without it: calibration data when none is held out."""
    fold = np.arange(len(y)) % folds
    np.random.default_rng(kw["seed"]).shuffle(fold)
    out = np.zeros((len(y), len(w0)), dtype=np.float32)
    for k in range(folds):
        train, held = np.where(fold != k)[0], np.where(fold == k)[0]
        if len(held):
            weight, bias, _ = train_head(X, y, train, [], w0, **kw)
            out[held] = X[held] @ weight.T + bias
    return out


def self_train(
    X: np.ndarray,
    y: np.ndarray,
    U: np.ndarray,
    train_idx: Sequence[int],
    val_idx: Sequence[int],
    w0: np.ndarray,
    *,
    rounds: int,
    share: float,
    report: Progress | None = None,
    **kw,  # noqa: ANN003
) -> tuple[np.ndarray, np.ndarray, int]:
    """Self-training with unlabelled documents (the other documents in the store).

    Train on the labelled examples; then, ``rounds`` times, label the unlabelled documents
    with the current head, keep the most confident ``share`` of them and train again on
    examples and pseudo-labels. The labelled examples and the anchor to the descriptions keep
    the labels what the person meant.
    """
    weight, bias, best = train_head(X, y, train_idx, val_idx, w0, report=report, **kw)
    if len(U) == 0 or rounds == 0:
        return weight, bias, best
    train_idx = list(train_idx)
    for _ in range(rounds):
        logits = U @ weight.T + bias
        z = logits - logits.max(1, keepdims=True)
        probs = np.exp(z) / np.exp(z).sum(1, keepdims=True)
        confidence = probs.max(1)
        keep = np.where(confidence >= np.quantile(confidence, 1.0 - share))[0]
        XX = np.concatenate([X, U[keep]])
        yy = np.concatenate([y, probs.argmax(1)[keep]])
        extra = list(range(len(X), len(XX)))
        rounds_kw = {**kw, "epochs": max(10, kw["epochs"] * len(train_idx) // max(1, len(train_idx) + len(extra)))}
        weight, bias, best = train_head(XX, yy, train_idx + extra, val_idx, w0, report=report, **rounds_kw)
    return weight, bias, best

"""The training loop of every fine-tuned model: an encoder (LoRA adapters or all its weights)
and a head trained together, validated each epoch, the best epoch's weights kept.

A trainer gives what is its own: the batches of an epoch (from its own random generator), a
batch's loss and the validation. fit() draws no random numbers but dropout's, so a trainer that
seeds and builds its model as before gets the same numbers, bit for bit (the shipped artifacts'
cards promise that ``workflowd train`` reproduces them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from .common import Anchor, BestEpoch, EpochReport, Progress

Batch = TypeVar("Batch", bound=Sized)


@dataclass
class Validation:
    """One epoch's validation: ``score`` to maximise (None: nothing to validate on), what the
    progress report shows of it (``EpochReport.val_loss`` and ``val_macro_f1``), and ``record``
    for the epoch's entry in the history."""

    score: float | None
    loss: float | None = None
    f1: float | None = None
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class Fitted:
    best_epoch: int  # 0: nothing validated, the weights are the last epoch's
    history: list[dict[str, Any]]  # per epoch: epoch, train_loss, the validation's record, seconds


def random_batches(n: int, batch_size: int, seed: int) -> Callable[[], Iterable[torch.Tensor]]:
    """An epoch's batches of indices into ``n`` examples, in a new random order each epoch."""
    g = torch.Generator().manual_seed(seed)
    return lambda: torch.randperm(n, generator=g).split(batch_size)


def fit(
    model: torch.nn.Module,
    head: torch.nn.Module,
    batches: Callable[[], Iterable[Batch]],
    loss: Callable[[Batch], torch.Tensor],
    validate: Callable[[], Validation],
    *,
    epochs: int,
    steps_per_epoch: int,
    lr: float,
    head_lr: float,
    weight_decay: float,
    warmup_share: float,
    patience: int,
    anchor: float = 0.0,
    min_gain: float = 0.0,
    clip_head: bool = True,
    report: Progress | None = None,
) -> Fitted:
    """Train ``model``'s trainable weights (at ``lr``) and ``head`` (at ``head_lr``) with AdamW,
    a linear warmup over ``warmup_share`` of the steps then a linear decay, gradients clipped at
    norm 1 (the head's too unless ``clip_head`` is False). ``anchor``: the L2-SP strength that
    holds every weight near its start. After each epoch ``validate``; stop after ``patience``
    epochs whose score does not beat the best by more than ``min_gain``, and end with the best
    epoch's weights."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    head_params = list(head.parameters())
    held = Anchor(trainable + head_params, anchor)
    clipped = trainable + head_params if clip_head else trainable
    opt = torch.optim.AdamW(
        [{"params": trainable, "lr": lr}, {"params": head_params, "lr": head_lr}], weight_decay=weight_decay
    )
    steps = epochs * steps_per_epoch
    warmup = max(1, int(warmup_share * steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    best = BestEpoch(model, head, patience, min_gain)
    history = []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        head.train()
        total, count = 0.0, 0
        for batch in batches():
            value = loss(batch) + held.penalty()
            opt.zero_grad()
            value.backward()
            torch.nn.utils.clip_grad_norm_(clipped, 1.0)
            opt.step()
            sched.step()
            total += float(value.detach()) * len(batch)
            count += len(batch)
        v = validate()
        train_loss, seconds = total / max(1, count), time.perf_counter() - t0
        history.append({"epoch": epoch, "train_loss": train_loss, **v.record, "seconds": round(seconds, 1)})
        if report:
            report(EpochReport(epoch, epochs, train_loss, v.loss, v.f1, seconds))
        if best.update(epoch, v.score):
            break
    best.restore()
    model.eval()
    head.eval()
    return Fitted(best.epoch, history)

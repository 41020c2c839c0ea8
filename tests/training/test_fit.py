"""The training loop every fine-tuned model shares: best epoch kept, patience, anchor, reports."""

from __future__ import annotations

import torch

from workflowd.training.common import EpochReport
from workflowd.training.fit import Fitted, Validation, fit, random_batches

X = torch.linspace(-1, 1, 16).unsqueeze(1)
Y = 3 * X + 1


def _parts() -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(1, 4), torch.nn.Linear(4, 4))
    model[0].requires_grad_(False)  # frozen, as the base weights under LoRA
    return model, torch.nn.Linear(4, 1)


Run = tuple[torch.nn.Module, torch.nn.Module, Fitted, list[list[torch.Tensor]], list[EpochReport]]


def _fit(scores: list[float | None], **kw: object) -> Run:
    """Fit the toy model; ``scores``: what validation says after each epoch."""
    model, head = _parts()
    snapshots, reports = [], []
    scripted = iter(scores)

    def validate() -> Validation:
        snapshots.append([p.detach().clone() for p in (*model[1].parameters(), *head.parameters())])
        score = next(scripted)
        return Validation(score, loss=None if score is None else -score, f1=score, record={"score": score})

    def loss(batch: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.mse_loss(head(model(X[batch])), Y[batch])

    settings = {"epochs": len(scores), "steps_per_epoch": 4, "lr": 1e-2, "head_lr": 1e-2, "weight_decay": 0.0,
                "warmup_share": 0.1, "patience": 1, "report": reports.append, **kw}
    fitted = fit(model, head, random_batches(16, 4, seed=1), loss, validate, **settings)
    return model, head, fitted, snapshots, reports


def _weights(model: torch.nn.Module, head: torch.nn.Module) -> list[torch.Tensor]:
    return [p.detach() for p in (*model[1].parameters(), *head.parameters())]


def test_the_best_epoch_is_kept_and_patience_stops() -> None:
    model, head, fitted, snapshots, reports = _fit([0.1, 0.5, 0.3, 0.2, 0.9, 0.9])
    assert fitted.best_epoch == 2
    assert [h["epoch"] for h in fitted.history] == [1, 2, 3, 4]  # two epochs without progress: stop
    assert all(torch.equal(a, b) for a, b in zip(_weights(model, head), snapshots[1], strict=True))
    assert not model.training and not head.training
    assert [h["score"] for h in fitted.history] == [0.1, 0.5, 0.3, 0.2]
    assert [r.val_macro_f1 for r in reports] == [0.1, 0.5, 0.3, 0.2]
    assert reports[0].val_loss == -0.1 and reports[0].epochs == 6


def test_frozen_weights_do_not_move() -> None:
    before = _parts()[0][0].weight.detach().clone()
    model = _fit([0.1, 0.2])[0]
    assert torch.equal(model[0].weight, before)


def test_a_gain_under_min_gain_is_no_progress() -> None:
    fitted = _fit([1.0, 1.00005, 1.00008], min_gain=1e-4)[2]
    assert fitted.best_epoch == 1 and len(fitted.history) == 3
    fitted = _fit([1.0, 1.00005, 1.00008])[2]
    assert fitted.best_epoch == 3


def test_without_validation_every_epoch_runs_and_the_last_is_kept() -> None:
    model, head, fitted, snapshots, reports = _fit([None, None, None])
    assert fitted.best_epoch == 0 and len(fitted.history) == 3
    assert all(torch.equal(a, b) for a, b in zip(_weights(model, head), snapshots[-1], strict=True))
    assert reports[-1].val_loss is None and reports[-1].val_macro_f1 is None


def test_the_anchor_holds_the_weights_near_their_start() -> None:
    start = _weights(*_parts())

    def drift(strength: float) -> float:
        model, head, *_ = _fit([None] * 5, anchor=strength, lr=5e-2, head_lr=5e-2)
        return float(sum(((w - w0) ** 2).sum() for w, w0 in zip(_weights(model, head), start, strict=True)))

    assert drift(10.0) < drift(0.0) / 2


def test_the_same_seeds_give_the_same_weights() -> None:
    a = _weights(*_fit([0.1, 0.2])[:2])
    b = _weights(*_fit([0.1, 0.2])[:2])
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    assert not torch.equal(a[0], _parts()[0][1].weight)  # and training moved them

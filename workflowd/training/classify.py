"""Training a document classifier: a head on frozen embeddings, LoRA, or full fine-tuning.

Every method starts from the zero-shot classifier (each label's weight is the embedding of
its description) and learns a correction to it: the head is ``W0 + delta`` and weight decay
pulls ``delta`` back towards zero, so a few examples adjust the descriptions instead of
replacing them, and many examples outweigh them. Early stopping watches the validation
split; temperature scaling on the same split calibrates the confidence.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from ..errors import ModelError
from ..models.calibration import expected_calibration_error, fit_temperature
from ..models.classifier import ZERO_SHOT_TEMPERATURE, Classifier, softmax, zero_shot
from ..models.encoder import Encoder
from .common import EpochReport, Progress
from .data import LabelledTexts, stratified_split
from .head import out_of_fold_logits, self_train
from .metrics import classification_metrics

METHODS = ("head", "lora", "full")

# Per-method defaults, chosen on the training part of the BBC benchmark (benchmarks/README.md).
METHOD_DEFAULTS: dict[str, dict[str, Any]] = {
    "head": {"epochs": 100, "lr": 5e-3, "batch_size": 32},
    "lora": {"epochs": 8, "lr": 1e-3, "batch_size": 8},
    "full": {"epochs": 6, "lr": 4e-5, "batch_size": 8},
}


@dataclass
class ClassifyParams:
    method: str = "head"
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    weight_decay: float = 0.01
    dropout: float = 0.1
    patience: int = 3
    val_share: float = 0.2
    seed: int = 13
    lora_r: int = 16
    lora_alpha: int = 32
    train_windows: int = 2  # windows per document while the encoder is fine-tuned
    self_training_rounds: int = 3  # with unlabelled documents (head only)
    pseudo_label_share: float = 0.7  # the most confident share of them taken as examples each round

    def resolved(self) -> ClassifyParams:
        if self.method not in METHODS:
            raise ModelError(f"unknown training method {self.method!r}; choose from {', '.join(METHODS)}")
        defaults = {k: v for k, v in METHOD_DEFAULTS[self.method].items() if getattr(self, k) is None}
        return ClassifyParams(**{**asdict(self), **defaults})


@dataclass
class TrainOutcome:
    classifier: Classifier
    metrics: dict[str, Any]
    meta: dict[str, Any]
    tuned_model: torch.nn.Module | None = None  # the fine-tuned encoder (lora: a peft model)
    history: list[EpochReport] = field(default_factory=list)


@dataclass
class Continue:
    """Going on from a classifier (retraining from corrections): the labels it must know, where
    each starts, and which may learn.

    labels: every label the new classifier knows, in order (those of the model in use, the
        described ones and the new ones).
    start: label -> (weight row, bias) to start from, at temperature 1 (the model in use's).
    trainable: the labels with examples; the others keep their starting weights.
    temperature: fixed, not fitted (the labels that do not learn keep their calibration).
    """

    labels: list[str]
    start: dict[str, tuple[np.ndarray, float]] = field(default_factory=dict)
    trainable: set[str] = field(default_factory=set)
    temperature: float = 1.0


def train_classifier(
    encoder: Encoder,
    data: LabelledTexts,
    params: ClassifyParams,
    descriptions: dict[str, str] | None = None,
    progress: Progress | None = None,
    unlabeled: np.ndarray | None = None,
    go_on: Continue | None = None,
    embeddings: np.ndarray | None = None,
) -> TrainOutcome:
    """Train, calibrate and measure a classifier; nothing is saved or registered here.

    ``unlabeled``: embeddings of documents without labels (the store's), for self-training
    of the head. ``go_on``: continue from a classifier in use (see Continue); the frozen rows
    only apply to the head method (LoRA and full change the encoder under every row).
    ``embeddings``: the texts' document embeddings when the caller has them already (head).
    """
    p = params.resolved()
    labels = list(go_on.labels) if go_on else sorted(set(data.labels))
    if len(labels) < 2:
        raise ModelError(f"training needs at least two labels; the data has only {labels}")
    unknown = sorted(set(data.labels) - set(labels))
    if unknown:
        raise ModelError(f"labels {', '.join(unknown)} are not among the labels to train: {', '.join(labels)}")
    y = np.array([labels.index(label) for label in data.labels])
    train_idx, val_idx = stratified_split(data.labels, p.val_share, p.seed)
    w0 = initial_weights(encoder, labels, descriptions or {}, data.texts, y)
    b0 = frozen = None
    if go_on is not None:
        b0 = np.zeros(len(labels), dtype=np.float32)
        for label, (row, b) in go_on.start.items():
            w0[labels.index(label)], b0[labels.index(label)] = row, b
        if p.method == "head":
            frozen = np.array([label not in go_on.trainable for label in labels])
    history: list[EpochReport] = []

    def report(r: EpochReport) -> None:
        history.append(r)
        if progress:
            progress(r)

    started = time.perf_counter()
    common = {"epochs": p.epochs, "lr": p.lr, "batch_size": p.batch_size, "weight_decay": p.weight_decay,
              "dropout": p.dropout, "patience": p.patience, "seed": p.seed}
    tuned = None
    if p.method == "head":
        X = embeddings if embeddings is not None else np.stack(
            [e.embedding for e in encoder.encode_documents(data.texts)]
        )
        U = unlabeled if unlabeled is not None and len(unlabeled) else np.zeros((0, X.shape[1]), np.float32)
        rounds = {"rounds": p.self_training_rounds, "share": p.pseudo_label_share}
        if go_on is not None:
            common.update(b0=b0, frozen=frozen)
        weight, bias, best_epochs = self_train(X, y, U, train_idx, val_idx, w0, report=report, **rounds, **common)
        if val_idx:
            # Calibrate on the held-out part, then train again on everything for as many epochs
            # as early stopping found best: the held-out examples are too valuable to leave out.
            val_logits, val_y = X[val_idx] @ weight.T + bias, y[val_idx]
            weight, bias, _ = self_train(X, y, U, list(range(len(y))), [], w0, **rounds,
                                         **{**common, "epochs": best_epochs})
        elif go_on is not None:  # the temperature is fixed: nothing to calibrate
            val_logits, val_y = np.zeros((0, len(labels)), np.float32), y[:0]
        else:  # too few examples to hold any out: calibrate on out-of-fold predictions
            val_logits, val_y = out_of_fold_logits(X, y, w0, **common), y
    else:
        from .finetune import finetune

        tuned, weight, bias, val_logits = finetune(
            encoder, data.texts, y, train_idx, val_idx, w0, method=p.method, lora_r=p.lora_r,
            lora_alpha=p.lora_alpha, train_windows=p.train_windows, report=report, **common,
        )
        val_y = y[val_idx]
    seconds = time.perf_counter() - started

    metrics: dict[str, Any] = {"validation": "held out" if val_idx else ("out-of-fold" if len(val_y) else "none")}
    temperature = 1.0
    if go_on is not None:
        temperature = go_on.temperature
    elif len(val_y):
        temperature = fit_temperature(val_logits, val_y)
        probs = softmax(val_logits / temperature)
        metrics.update(classification_metrics([labels[i] for i in val_y], [labels[i] for i in probs.argmax(1)]))
        metrics["ece"] = expected_calibration_error(probs, val_y)
        metrics["n"] = int(len(val_y))
    metrics["temperature"] = temperature
    meta = {
        "method": p.method,
        "params": asdict(p),
        "base_model": encoder.name,
        "labels": labels,
        "descriptions": {label: descriptions[label] for label in labels if descriptions and descriptions.get(label)},
        "data": {"n": len(data), "n_train": len(train_idx), "n_val": len(val_idx), "sha256": data.sha256,
                 "per_label": {label: int((y == i).sum()) for i, label in enumerate(labels) if (y == i).any()}},
        "unlabeled": int(len(unlabeled)) if p.method == "head" and unlabeled is not None else 0,
        "frozen_labels": [label for label in labels if go_on and label not in go_on.trainable],
        "train_seconds": round(seconds, 1),
        "epochs_run": len(history),
    }
    clf = Classifier(labels, weight, bias, temperature, p.method, meta=meta)
    return TrainOutcome(clf, metrics, meta, tuned, history)


def initial_weights(
    encoder: Encoder, labels: list[str], descriptions: dict[str, str], texts: list[str], y: np.ndarray
) -> np.ndarray:
    """Zero-shot weights: each label's description, else the mean embedding of its first examples
    (else zero)."""
    known = {label: descriptions[label] for label in labels if descriptions.get(label)}
    w = np.zeros((len(labels), encoder.dim), dtype=np.float32)
    if known:
        zs = zero_shot(encoder, known)
        for label, row in zip(zs.labels, zs.weight, strict=True):
            w[labels.index(label)] = row
    for i, label in enumerate(labels):
        examples = [t for t, yi in zip(texts, y, strict=True) if yi == i][:32]
        if label not in known and examples:  # (a label with neither starts at zero)
            mean = encoder.encode_texts(examples).mean(0)
            w[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
    return w / ZERO_SHOT_TEMPERATURE

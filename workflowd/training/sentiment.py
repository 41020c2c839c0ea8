"""Training the sentiment model: LoRA on the shared encoder and a 3-way head, on one or more
labelled files at once (e.g. SST-2 movie reviews and Financial PhraseBank news).

Binary files (no neutral example) train only the negative-against-positive decision: the
neutral score is masked out of their loss, so the head learns neutral from the files that
have it without SST-2 teaching it that nothing is neutral. A file much smaller than the
largest is repeated so that each epoch sees it at least a fifth as often. Each file gives
``val_share`` of its examples to validation; the epoch kept is the one with the best mean
accuracy over the files.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..models.encoder import Encoder
from ..sentiment.data import LABELS, SentimentData
from ..sentiment.model import SentimentHead, SentimentModel, chunk_logits, sentence_chunks
from .common import Progress
from .data import stratified_split
from .finetune import load_head_state, resume_adapter, tunable_copy
from .fit import Validation, fit
from .metrics import classification_metrics


@dataclass
class SentimentParams:
    epochs: int = 1
    lr: float = 1e-3
    head_lr: float = 2e-3
    batch_size: int = 32
    lora_r: int = 16
    lora_alpha: int = 32
    weight_decay: float = 0.01
    warmup_share: float = 0.06
    val_share: float = 0.05
    min_share: float = 0.2
    patience: int = 1
    seed: int = 0
    anchor: float = 0.0  # going on from a saved model: pull the weights back towards it (L2-SP)


def predict_labels(model: SentimentModel, data: SentimentData) -> list[str]:
    """Document-level labels as the step gives them; on a binary file, negative or positive."""
    docs = model.documents(data.texts)
    if data.binary:
        return ["positive" if d.probs[2] >= d.probs[0] else "negative" for d in docs]
    return [d.label for d in docs]


def sentiment_metrics(model: SentimentModel, data: SentimentData) -> dict[str, Any]:
    m = classification_metrics(data.labels, predict_labels(model, data))
    m["binary"] = data.binary
    return m


@dataclass
class SentimentOutcome:
    model: SentimentModel
    adapter_model: torch.nn.Module
    metrics: dict[str, Any]
    meta: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)


def _subset(data: SentimentData, idx: Sequence[int]) -> SentimentData:
    return SentimentData(
        [data.texts[i] for i in idx], [data.labels[i] for i in idx], data.sha256, data.source, data.three_way
    )


def _batches(lengths: np.ndarray, batch_size: int, g: np.random.Generator) -> list[np.ndarray]:
    """Random batches of similar length (little padding): shuffle, sort within pools, shuffle batches."""
    order = g.permutation(len(lengths))
    pool = batch_size * 50
    batches = []
    for p in range(0, len(order), pool):
        part = order[p : p + pool]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    return [batches[i] for i in g.permutation(len(batches))]


def saved_pool(folder: Path) -> str:
    """How a saved model's head pools (models saved before the multi-task encoder: "mean")."""
    import json

    try:
        return json.loads((folder / "meta.json").read_text()).get("pool", "mean")
    except (OSError, ValueError):
        return "mean"


def train_sentiment(
    encoder: Encoder,
    sources: Sequence[SentimentData],
    params: SentimentParams | None = None,
    report: Progress | None = None,
    init: Path | None = None,
) -> SentimentOutcome:
    """Train on ``sources`` together; ``init``: a saved model's folder to go on from."""
    params = params or SentimentParams()
    torch.manual_seed(params.seed)
    g = np.random.default_rng(params.seed)
    t_start = time.perf_counter()
    trains, vals = [], []
    for data in sources:
        tr, va = stratified_split(data.labels, params.val_share, params.seed)
        trains.append(_subset(data, tr))
        vals.append(_subset(data, va) if va else None)
    largest = max(len(t) for t in trains)
    texts, labels, binary = [], [], []
    for t in trains:
        repeat = max(1, math.ceil(params.min_share * largest / len(t)))
        for _ in range(repeat):
            texts += t.texts
            labels += [LABELS.index(label) for label in t.labels]
            binary += [t.binary] * len(t)
    chunks = sentence_chunks(encoder, texts)
    lengths = np.array([len(c.input_ids) for c in chunks])
    y = torch.tensor(labels)
    neutral_mask = torch.zeros((len(texts), len(LABELS)))
    neutral_mask[torch.tensor(binary), LABELS.index("neutral")] = -1e4

    # the adapter, then the head (the order of random initialisation the shipped artifact has)
    # going on from a saved model: its adapter, or a new one where it reads the shared pass
    # (the shipped head on the multi-task encoder, which then starts from where it stands)
    own = init is not None and (init / "adapter").is_dir()
    model = (resume_adapter(encoder, init / "adapter") if own
             else tunable_copy(encoder, "lora", params.lora_r, params.lora_alpha))
    head = SentimentHead(encoder.dim, pool=saved_pool(init) if init is not None else "layers").to(encoder.device)
    if init is not None:
        load_head_state(head, init / "head.safetensors")
    wrapped = SentimentModel(encoder, model, head)

    def batch_loss(batch: np.ndarray) -> torch.Tensor:
        logits = chunk_logits(model, head, [chunks[i] for i in batch], encoder)
        idx = torch.from_numpy(batch)
        return F.cross_entropy(logits + neutral_mask[idx].to(logits.device), y[idx].to(logits.device))

    def validate() -> tuple[float | None, dict[str, Any]]:
        per = {v.source: sentiment_metrics(wrapped, v) for v in vals if v is not None}
        return (float(np.mean([m["accuracy"] for m in per.values()])) if per else None), per

    def epoch_validation() -> Validation:
        score, per = validate()
        val = {k: {"accuracy": v["accuracy"], "macro_f1": v["macro_f1"]} for k, v in per.items()}
        return Validation(score, f1=score, record={"val_mean_accuracy": score, "val": val})

    fitted = fit(
        model, head, lambda: _batches(lengths, params.batch_size, g), batch_loss, epoch_validation,
        epochs=params.epochs, steps_per_epoch=math.ceil(len(texts) / params.batch_size), lr=params.lr,
        head_lr=params.head_lr, weight_decay=params.weight_decay, warmup_share=params.warmup_share,
        patience=params.patience, anchor=params.anchor if init is not None else 0.0, report=report,
    )
    _score, per = validate()
    meta = {
        "method": "lora",
        "labels": list(LABELS),
        "params": params.__dict__,
        "best_epoch": fitted.best_epoch,
        "continued_from": str(init) if init else None,
        "data": [{"file": s.source, "sha256": s.sha256, "n": len(s), "binary": s.binary} for s in sources],
        "train_examples_per_epoch": len(texts),
        "train_seconds": round(time.perf_counter() - t_start, 1),
    }
    metrics = {"validation": per, "mean_accuracy": _score}
    return SentimentOutcome(wrapped, model, metrics, meta, fitted.history)

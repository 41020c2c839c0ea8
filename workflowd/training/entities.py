"""Training the entity tagger on CoNLL data: LoRA on the shared encoder, word shapes, BIO.

Every sub-word token is trained (B-X on a word's first piece, I-X on the rest). The model
kept is the epoch with the best entity-level F1 on the validation documents (seqeval, exact
spans), decoded exactly as the step decodes a document.
"""

from __future__ import annotations

import bisect
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from ..errors import ModelError
from ..models.encoder import MAX_TOKEN_CHUNKS, Encoder
from ..ner.bio import Span, tag_names
from ..ner.conll import TYPES, ConllDoc
from ..ner.tagger import Tagger, TaggerHead, Window, window_logits, windows
from .common import Progress
from .finetune import load_head_state, resume_adapter, tunable_copy
from .fit import Validation, fit, random_batches

IGNORE = -100


@dataclass
class EntityParams:
    epochs: int = 4
    lr: float = 1e-3
    head_lr: float = 1e-3
    batch_size: int = 8
    lora_r: int = 16
    lora_alpha: int = 32
    weight_decay: float = 0.01
    warmup_share: float = 0.1
    shapes: bool = True
    patience: int = 1
    seed: int = 0
    anchor: float = 0.0  # going on from a saved tagger: pull the weights back towards it (L2-SP)


@dataclass
class PreparedDoc:
    text: str
    word_spans: list[list[tuple[int, int]]]
    tags: list[list[str]]
    windows: list[Window]
    labels: list[np.ndarray] = field(default_factory=list)


def prepare(
    encoder: Encoder, docs: Sequence[ConllDoc], tags: Sequence[str], *, shapes: bool = True
) -> list[PreparedDoc]:
    out = []
    for doc in docs:
        text, spans = doc.text_and_spans()
        out.append(_label(encoder, text, spans, doc.tags, tags, shapes=shapes, max_chunks=None))
    return out


WORD = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]")


def prepare_spans(
    encoder: Encoder,
    items: Sequence[tuple[str, Sequence[Span]]],
    tags: Sequence[str],
    *,
    shapes: bool = True,
    max_chunks: int | None = MAX_TOKEN_CHUNKS,
) -> list[PreparedDoc]:
    """Documents with their entities as character spans (corrections, pseudo-labels): words are
    cut from the text, and a word takes the type of the span it starts in."""
    out = []
    for text, spans in items:
        words = [[m.span() for m in WORD.finditer(text)]]
        ordered = sorted(spans, key=lambda sp: sp.start)
        out.append(_label(encoder, text, words, word_tags(ordered, words), tags, shapes=shapes,
                          max_chunks=max_chunks))
    return out


def _label(
    encoder: Encoder,
    text: str,
    spans: list[list[tuple[int, int]]],
    word_tags_: list[list[str]],
    tags: Sequence[str],
    *,
    shapes: bool,
    max_chunks: int | None,
) -> PreparedDoc:
    """The document's windows, each token labelled with its word's tag (B- only on a word's
    first piece)."""
    index = {t: i for i, t in enumerate(tags)}
    wins = windows(encoder, text, max_chunks=max_chunks)
    if not shapes:
        for w in wins:
            w.shapes = np.zeros_like(w.shapes)
    flat_spans = [s for row in spans for s in row]
    flat_tags = [t for row in word_tags_ for t in row]
    starts = [s[0] for s in flat_spans]
    labels = []
    for w in wins:
        y = np.full(len(w.chunk.offsets), IGNORE, dtype=np.int64)
        for i, (a, b) in enumerate(w.chunk.offsets):
            if a == b:
                continue
            k = bisect.bisect_right(starts, a) - 1
            if k < 0 or a >= flat_spans[k][1]:
                continue
            tag = flat_tags[k]
            if a != flat_spans[k][0] and tag.startswith("B-"):
                tag = "I-" + tag[2:]
            y[i] = index.get(tag, 0)
        labels.append(y)
    return PreparedDoc(text, spans, word_tags_, wins, labels)


def word_tags(spans: Sequence[Span], word_spans: Sequence[Sequence[tuple[int, int]]]) -> list[list[str]]:
    """CoNLL word tags from entity character spans: a word is in an entity when it starts inside it."""
    starts = [s.start for s in spans]
    out = []
    for row in word_spans:
        tags = []
        last: Span | None = None
        for a, _b in row:
            k = bisect.bisect_right(starts, a) - 1
            span = spans[k] if k >= 0 and a < spans[k].end else None
            if span is None:
                tags.append("O")
            else:
                tags.append(("I-" if span is last else "B-") + span.type)
            last = span
        out.append(tags)
    return out


def entity_metrics(truth: list[list[str]], predicted: list[list[str]]) -> dict[str, Any]:
    """Entity-level precision, recall and F1 with exact spans (seqeval), overall and per type."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    report = classification_report(truth, predicted, output_dict=True, zero_division=0)
    per_type = {
        t: {
            "precision": float(v["precision"]),
            "recall": float(v["recall"]),
            "f1": float(v["f1-score"]),
            "support": int(v["support"]),
        }
        for t, v in report.items()
        if t not in ("micro avg", "macro avg", "weighted avg")
    }
    return {
        "precision": float(precision_score(truth, predicted)),
        "recall": float(recall_score(truth, predicted)),
        "f1": float(f1_score(truth, predicted)),
        "per_type": per_type,
    }


def evaluate_docs(tagger: Tagger, docs: Sequence[PreparedDoc]) -> dict[str, Any]:
    probs = tagger.scores([d.windows for d in docs])
    truth, predicted, at = [], [], 0
    for d in docs:
        spans = tagger.decode(d.text, d.windows, probs[at : at + len(d.windows)])
        at += len(d.windows)
        truth.extend(d.tags)
        predicted.extend(word_tags(spans, d.word_spans))
    return entity_metrics(truth, predicted)


@dataclass
class TaggerOutcome:
    tagger: Tagger
    adapter_model: torch.nn.Module
    metrics: dict[str, Any]
    meta: dict[str, Any]
    history: list[dict[str, Any]]


def train_tagger(
    encoder: Encoder,
    train_docs: Sequence[ConllDoc],
    val_docs: Sequence[ConllDoc],
    params: EntityParams | None = None,
    report: Progress | None = None,
) -> TaggerOutcome:
    params = params or EntityParams()
    tags = tag_names(TYPES)
    t_start = time.perf_counter()
    train = prepare(encoder, train_docs, tags, shapes=params.shapes)
    val = prepare(encoder, val_docs, tags, shapes=params.shapes)
    outcome = train_prepared(encoder, train, val, params, report)
    outcome.meta["train_seconds"] = round(time.perf_counter() - t_start, 1)
    return outcome


def train_prepared(
    encoder: Encoder,
    train: Sequence[PreparedDoc],
    val: Sequence[PreparedDoc],
    params: EntityParams | None = None,
    report: Progress | None = None,
    init: Path | None = None,
) -> TaggerOutcome:
    """Train on labelled windows; the epoch kept is the best on ``val`` (the last without it).
    ``init``: a saved tagger's folder to go on from (its adapter and head)."""
    params = params or EntityParams()
    torch.manual_seed(params.seed)
    tags = tag_names(TYPES)
    t_start = time.perf_counter()
    items = [(w, y) for d in train for w, y in zip(d.windows, d.labels, strict=True)]
    if not items:
        raise ModelError("nothing to train the entity tagger on (no text in the training documents)")
    # the adapter, then the head: the order of their random initialisation is that of the
    # shipped artifact's training run, which the same command reproduces bit for bit
    # going on from a saved tagger: its adapter, or a new one where it reads the shared pass
    # (the shipped head on the multi-task encoder, which then starts from where it stands)
    model = (resume_adapter(encoder, init / "adapter") if init is not None and (init / "adapter").is_dir()
             else tunable_copy(encoder, "lora", params.lora_r, params.lora_alpha))
    head = TaggerHead(encoder.dim, len(tags)).to(encoder.device)
    if init is not None:
        load_head_state(head, init / "head.safetensors")
    tagger = Tagger(encoder, model, head, tags)

    def batch_loss(batch: torch.Tensor) -> torch.Tensor:
        chosen = [items[i] for i in batch]
        logits = window_logits(model, head, [w for w, _ in chosen], encoder.pad_id, encoder.device)
        y = torch.full(logits.shape[:2], IGNORE, dtype=torch.long)
        for row, (_w, labels) in enumerate(chosen):
            y[row, : len(labels)] = torch.from_numpy(labels)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten().to(logits.device), ignore_index=IGNORE)

    def validate() -> Validation:
        f1 = evaluate_docs(tagger, val)["f1"] if val else None
        return Validation(f1, f1=f1, record={"val_f1": f1})

    fitted = fit(
        model, head, random_batches(len(items), params.batch_size, params.seed), batch_loss, validate,
        epochs=params.epochs, steps_per_epoch=math.ceil(len(items) / params.batch_size), lr=params.lr,
        head_lr=params.head_lr, weight_decay=params.weight_decay, warmup_share=params.warmup_share,
        patience=params.patience, anchor=params.anchor if init is not None else 0.0, report=report,
    )
    final = evaluate_docs(tagger, val) if val else {}
    meta = {
        "method": "lora",
        "types": list(TYPES),
        "params": params.__dict__,
        "best_epoch": fitted.best_epoch,
        "continued_from": str(init) if init else None,
        "train_documents": len(train),
        "train_windows": len(items),
        "val_documents": len(val),
        "train_seconds": round(time.perf_counter() - t_start, 1),
        "history": fitted.history,
    }
    return TaggerOutcome(tagger, model, final, meta, fitted.history)

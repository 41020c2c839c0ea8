"""Retraining from the owner's corrections, promoted only when it measures no worse.

For ``classify``: every correction in force is an example (new ones and, replayed, all the
earlier ones). A fixed share of them, chosen by a hash of the document (so a document stays
on the same side from one retrain to the next), is held out. The candidate is trained on the
rest and compared with the model in use on

- the held-out corrections, and
- the held-out corrections the model in use was validated on when it was promoted (its
  ``holdout_keys``), with their answers as they stand now,

and promoted only if it is not worse than the current model on both by more than
``margin`` (accuracy). Otherwise it is kept as ``rejected`` with its metrics and the reason.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import Settings
from ..errors import ModelError
from ..models.provider import ModelProvider
from ..models.registry import ModelVersion
from ..store import Store
from .classify import ClassifyParams, train_classifier
from .common import Progress
from .data import LabelledTexts
from .metrics import classification_metrics

HOLDOUT_SHARE = 0.2
MIN_CORRECTIONS = 6
MIN_HELD_OUT = 2


@dataclass
class Example:
    key: str  # the document's sha256 (or its id)
    text: str
    label: str


@dataclass
class RetrainResult:
    task: str
    version: ModelVersion
    promoted: bool
    reason: str
    comparison: dict[str, Any] = field(default_factory=dict)


def _hash(key: str) -> float:
    return int(hashlib.sha256(f"holdout\0{key}".encode()).hexdigest()[:8], 16) / 0x100000000


def split_keys(keys: list[str], share: float = HOLDOUT_SHARE, minimum: int = MIN_HELD_OUT) -> set[str]:
    """The held-out keys: those whose hash falls below ``share``, at least ``minimum`` of them."""
    ranked = sorted(keys, key=_hash)
    held = {k for k in ranked if _hash(k) < share}
    return held | set(ranked[:minimum])


def classify_examples(store: Store) -> list[Example]:
    out = []
    texts: dict[int, str] = {}
    for row in store.corrections.in_force("classify"):
        if row["document_id"] is not None:
            if row["document_id"] not in texts:
                texts[row["document_id"]] = (store.documents.get(row["document_id"]) or {}).get("text") or ""
            text = texts[row["document_id"]]
        else:
            text = row["text"] or ""
        if text.strip():
            out.append(Example(row["sha256"] or f"doc:{row['document_id']}", text, row["value"]["label"]))
    return out


def _accuracy(clf: Any, encoder: Any, examples: list[Example]) -> dict[str, Any] | None:
    if not examples:
        return None
    X = np.stack([e.embedding for e in (clf.encoder or encoder).encode_documents([x.text for x in examples])])
    pred = [clf.labels[i] for i in clf.proba(X).argmax(1)]
    m = classification_metrics([x.label for x in examples], pred)
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"], "n": len(examples)}


def retrain_classify(
    settings: Settings,
    *,
    margin: float = 0.0,
    promote: bool = True,
    params: ClassifyParams | None = None,
    progress: Progress | None = None,
) -> RetrainResult:
    from ..evaluation import classifier_in_use
    from ..models import classifier as clf_mod
    from ..steps.classify import ClassifySettings

    provider = ModelProvider(settings)
    registry = provider.registry()
    store = registry.store
    examples = classify_examples(store)
    if len(examples) < MIN_CORRECTIONS:
        raise ModelError(
            f"retraining classify needs at least {MIN_CORRECTIONS} corrections; there are "
            f"{len(examples)} (`workflowd review` or `workflowd correct` adds them)"
        )
    held_keys = split_keys([e.key for e in examples])
    train = [e for e in examples if e.key not in held_keys]
    held = [e for e in examples if e.key in held_keys]
    if len({e.label for e in train}) < 2:
        raise ModelError("retraining classify needs corrections with at least two labels")
    current = registry.current("classify")
    previous_keys = set((current.meta.get("holdout_keys") or []) if current else [])
    previous = [e for e in examples if e.key in previous_keys]

    descriptions = ClassifySettings.model_validate(settings.steps.get("classify", {})).labels
    data = LabelledTexts([e.text for e in train], [e.label for e in train], "corrections")
    _ids, unlabeled = store.embeddings.matrix(settings.model.base, limit=20_000)
    p = params or ClassifyParams()
    outcome = train_classifier(
        provider.encoder, data, p, descriptions, progress, unlabeled if p.method == "head" else None
    )
    encoder = provider.encoder
    now = classifier_in_use(settings, provider)
    comparison = {
        "held_out": {
            "candidate": _accuracy(outcome.classifier, encoder, held),
            "current": _accuracy(now, encoder, held),
        },
        "previous_validation": {
            "candidate": _accuracy(outcome.classifier, encoder, previous),
            "current": _accuracy(now, encoder, previous),
        },
        "current_version": now.model_version,
        "margin": margin,
    }
    reasons = []
    for part, label in (
        ("held_out", "held-out corrections"),
        ("previous_validation", "the previous validation data"),
    ):
        cand, cur = comparison[part]["candidate"], comparison[part]["current"]
        if cand and cur and cand["accuracy"] < cur["accuracy"] - margin:
            reasons.append(f"worse on {label} ({cand['accuracy']:.3f} < {cur['accuracy']:.3f} - {margin})")
    meta = {
        **outcome.meta,
        "trained_from": "corrections",
        "holdout_keys": sorted(held_keys),
        "data": {**outcome.meta["data"], "corrections": len(examples), "held_out": len(held)},
        "comparison": comparison,
    }
    metrics = {**outcome.metrics, "held_out_corrections": comparison["held_out"]["candidate"]}
    build = registry.staging_dir("classify")
    try:
        from .run import save_outcome

        save_outcome(outcome, build, encoder)
        clf_mod.save(outcome.classifier, build, meta)
        version = registry.add("classify", build, base_model=encoder.name, metrics=metrics, meta=meta)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    if reasons:
        reason = "; ".join(reasons)
        registry.reject("classify", version.version, reason)
        return RetrainResult("classify", registry.get("classify", version.version), False, reason, comparison)
    if not promote:
        return RetrainResult("classify", version, False, "not promoted (--no-promote)", comparison)
    version = registry.promote("classify", version.version)
    return RetrainResult(
        "classify", version, True, "not worse on held-out corrections nor on previous validation", comparison
    )

"""Retraining from the owner's corrections, promoted only when it measures no worse.

For every task the loop is the same (``retrain``); what differs is in ``TaskRetrainer``
(one module per task):

1. Every correction in force is an example: the new ones and, replayed, all the earlier
   ones. A fixed share of them, chosen by a hash of the document (so a document stays on the
   same side from one retrain to the next), is held out.
2. The candidate is trained on the rest, and on a replay of what the model in use knew:
   examples sampled from its original training data when ``[training] replay_data`` names
   the files, else (the tasks of ``pseudo_rehearsal``: sentiment and summarize by default)
   the model in use's own answers on documents in the store that nobody corrected
   (pseudo-rehearsal). The fine-tuned models (entities, sentiment) continue from the model
   in use instead of starting again, held close to it by an L2 penalty (L2-SP).
3. The candidate and the model in use are scored on the same examples: the held-out
   corrections, the held-out corrections the model in use was validated on when it was
   promoted (its ``holdout_keys``, with their answers as they stand now), and the files of
   ``[training] validation_data`` for that task.
4. It is promoted only if it is not worse on any of them (``training.gate``: by more than
   ``margin``, and beyond the noise of a small set); otherwise it is kept as ``rejected``
   with its metrics and the reason.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ...config import Settings
from ...errors import ModelError
from ...models.provider import ModelProvider
from ...models.registry import ModelVersion
from ...store import Store
from ..common import Progress
from ..gate import compare

HOLDOUT_SHARE = 0.2
MIN_HELD_OUT = 2
VALIDATION_MAX = 500  # examples of each validation_data file scored (a fixed sample)


@dataclass
class Example:
    key: str  # the document's sha256 (or its id)
    text: str
    value: dict[str, Any]  # the correction's value: {"label"}, {"entities"}, {"sentences", "summary"}


@dataclass
class Candidate:
    model: Any  # what ``TaskRetrainer.scores`` takes
    save: Callable[[Path, dict[str, Any]], None]  # writes the artifact, with this meta, into a folder
    metrics: dict[str, Any]
    meta: dict[str, Any]


@dataclass
class RetrainResult:
    task: str
    version: ModelVersion
    promoted: bool
    reason: str
    comparison: dict[str, Any] = field(default_factory=dict)


class TaskRetrainer:
    """What retraining one task needs; subclasses fill it in."""

    task: ClassVar[str]
    score_name: ClassVar[str] = "accuracy"  # what ``scores`` gives per example
    min_examples: ClassVar[int] = 6

    def __init__(
        self,
        settings: Settings,
        provider: ModelProvider,
        params: Any = None,
        progress: Progress | None = None,
    ):
        self.settings, self.provider, self.params, self.progress = settings, provider, params, progress

    @property
    def encoder(self) -> Any:
        return self.provider.encoder

    def usable(self, value: dict[str, Any]) -> bool:
        """Whether a correction's value can be a training example."""
        return True

    def check(self, train: list[Example]) -> None:
        """Raise ModelError when the training examples cannot make a model."""

    def current(self) -> tuple[Any, str]:
        """The model in use and its name (a version, "shipped" or "zero-shot")."""
        raise NotImplementedError

    def train(self, train: list[Example], current: Any) -> Candidate:
        raise NotImplementedError

    def scores(self, model: Any, examples: list[Example]) -> list[float]:
        """Per-example scores in [0, 1], in the order of ``examples``."""
        raise NotImplementedError

    def validation_data(self, paths: list[Path]) -> list[Example]:
        """Examples read from the task's ``[training] validation_data`` files."""
        raise ModelError(f"{self.task} takes no validation_data files")

    def current_folder(self, shipped: Path) -> Path:
        """Where the model in use lies: the promoted version, else the shipped artifact."""
        current = self.provider.registry().current(self.task)
        return Path(current.path) if current is not None else shipped


def _hash(key: str) -> float:
    return int(hashlib.sha256(f"holdout\0{key}".encode()).hexdigest()[:8], 16) / 0x100000000


def split_keys(keys: list[str], share: float = HOLDOUT_SHARE, minimum: int = MIN_HELD_OUT) -> set[str]:
    """The held-out keys: those whose hash falls below ``share``, at least ``minimum`` of them."""
    ranked = sorted(set(keys), key=_hash)
    held = {k for k in ranked if _hash(k) < share}
    return held | set(ranked[:minimum])


def sample(items: list[Any], n: int, salt: str) -> list[Any]:
    """A fixed sample of ``n`` items (the same from one run to the next), in their order."""
    if len(items) <= n:
        return list(items)
    ranked = sorted(range(len(items)), key=lambda i: hashlib.sha256(f"{salt}\0{i}".encode()).digest())
    return [items[i] for i in sorted(ranked[:n])]


MAX_REPEAT = 20


def repeats(corrections: int, replay: int, minimum: int) -> int:
    """How many times the corrections are shown per epoch: as often as the replay together (they
    are what is new), at least ``minimum`` examples per epoch (a few steps are not enough to
    learn anything), at most ``MAX_REPEAT`` times."""
    if not corrections:
        return 1
    return max(1, min(MAX_REPEAT, -(-max(minimum, replay) // corrections)))


def corrections_examples(store: Store, task: str) -> list[Example]:
    """Every correction of ``task`` in force, with its document's text."""
    out = []
    texts: dict[int, str] = {}
    for row in store.corrections.in_force(task):
        if row["document_id"] is not None:
            if row["document_id"] not in texts:
                texts[row["document_id"]] = (store.documents.get(row["document_id"]) or {}).get("text") or ""
            text = texts[row["document_id"]]
        else:
            text = row["text"] or ""
        if text.strip():
            out.append(Example(row["sha256"] or f"doc:{row['document_id']}", text, row["value"]))
    return out


def unreviewed_texts(store: Store, task: str, limit: int, max_chars: int = 4000) -> list[str]:
    """The newest processed documents' texts (cut at ``max_chars``) with no correction of ``task``:
    the documents pseudo-rehearsal replays the model in use's answers on."""
    rows = store.query(
        "SELECT substr(d.text, 1, ?) AS text FROM documents d WHERE d.status = 'done' AND d.text IS NOT NULL"
        " AND length(trim(d.text)) > 0 AND NOT EXISTS (SELECT 1 FROM corrections c WHERE c.task = ?"
        " AND c.undone_at IS NULL AND (c.document_id = d.id OR c.sha256 = d.sha256))"
        " ORDER BY d.id DESC LIMIT ?",
        (max_chars, task, limit),
    )
    return [r["text"] for r in rows]


def retrainers() -> dict[str, type[TaskRetrainer]]:
    from .classify import ClassifyRetrainer
    from .entities import EntitiesRetrainer
    from .sentiment import SentimentRetrainer
    from .summarize import SummarizeRetrainer

    return {r.task: r for r in (ClassifyRetrainer, EntitiesRetrainer, SummarizeRetrainer, SentimentRetrainer)}


def retrain(
    settings: Settings,
    task: str,
    *,
    promote: bool = True,
    params: Any = None,
    progress: Progress | None = None,
) -> RetrainResult:
    """Train ``task`` from the corrections, register the candidate, and promote it if it passes."""
    known = retrainers()
    if task not in known:
        raise ModelError(f"unknown task {task!r}; tasks: {', '.join(known)}")
    conf = settings.training
    provider = ModelProvider(settings)
    registry = provider.registry()
    r = known[task](settings, provider, params, progress)
    examples = [e for e in corrections_examples(registry.store, task) if r.usable(e.value)]
    if len(examples) < r.min_examples:
        raise ModelError(
            f"retraining {task} needs at least {r.min_examples} corrections; there are "
            f"{len(examples)} (`workflowd review` or `workflowd correct` adds them)"
        )
    held_keys = split_keys([e.key for e in examples])
    current_version = registry.current(task)
    previous_keys = set((current_version.meta.get("holdout_keys") or []) if current_version else [])
    # neither set is trained on: with more corrections, split_keys's minimum may choose others
    train = [e for e in examples if e.key not in held_keys and e.key not in previous_keys]
    held = [e for e in examples if e.key in held_keys]
    r.check(train)
    sets = {
        "held_out": ("held-out corrections", held),
        "previous_validation": (
            "the corrections the model in use was validated on",
            [e for e in examples if e.key in previous_keys],
        ),
    }
    files = [Path(p).expanduser() for p in conf.validation_data.get(task, [])]
    if files:
        sets["validation_data"] = (
            "the validation data",
            sample(r.validation_data(files), VALIDATION_MAX, task),
        )

    now, now_name = r.current()
    candidate = r.train(train, now)
    comparison: dict[str, Any] = {
        "current_version": now_name,
        "margin": conf.margin,
        "significance": conf.significance,
        "score": r.score_name,
    }
    reasons = []
    for part, (label, exs) in sets.items():
        if not exs:
            comparison[part] = None
            continue
        c = compare(
            r.scores(candidate.model, exs),
            r.scores(now, exs),
            margin=conf.margin,
            significance=conf.significance,
        )
        comparison[part] = c.public()
        if c.worse:
            reasons.append(
                f"worse on {label} ({r.score_name} {c.candidate:.3f} < {c.current:.3f} - {conf.margin}; "
                f"{c.losses} lost, {c.wins} won of {c.n}, p = {c.p_value:.3f})"
            )
    meta = {
        **candidate.meta,
        "trained_from": "corrections",
        "holdout_keys": sorted(held_keys),
        "data": {**candidate.meta.get("data", {}), "corrections": len(examples), "held_out": len(held)},
        "comparison": comparison,
    }
    metrics = {**candidate.metrics, "held_out_corrections": comparison["held_out"]}
    build = registry.staging_dir(task)
    try:
        candidate.save(build, meta)
        version = registry.add(task, build, base_model=provider.encoder.name, metrics=metrics, meta=meta)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    if reasons:
        reason = "; ".join(reasons)
        registry.reject(task, version.version, reason)
        return RetrainResult(task, registry.get(task, version.version), False, reason, comparison)
    if not promote:
        return RetrainResult(task, version, False, "not promoted (--no-promote)", comparison)
    version = registry.promote(task, version.version)
    return RetrainResult(task, version, True, "not worse on any evaluation set", comparison)

"""Retraining a task from the owner's corrections; promoted only when it measures better.

The loop is the same for every task (``retrain``); what differs lives in the task's
``TaskRetrainer`` (workflowd/tasks/<task>.py):

1. Every correction in force is an example: the new ones and, replayed, all the earlier ones.
   Beside them the task replays what the model in use knew (examples of its original
   training data, or its own answers on documents nobody corrected).
2. The candidate is measured on corrections it was not trained on, against the model in
   use on the same ones, which must not have learnt from them either:
   - tasks that train in seconds (``cross_validate``: classify's head) are cross-validated:
     each fold of the corrections the model in use never learnt from is scored by a
     candidate trained without it, and the candidate kept is then trained on everything;
   - the others hold out a fixed share, chosen by a hash of the document (a document stays
     on the same side from one retrain to the next), never trained on.
3. It is also scored on the files of ``[training] validation_data``, on the corrections the
   model in use learnt from (cross-validated tasks: both learnt from them, so doing worse
   there means new corrections contradict old ones) and, for tasks that give them
   (classify), on the model in use's own confident answers on documents nobody corrected:
   the candidate may change at most ``drift`` of those.
4. It is promoted only if the task accepts it (classify: it knows every label the model in
   use knows), it is not worse on any of these sets, and it is better on the corrections
   it was measured on: on at least ``min_held_out`` of them, by a sign test at
   ``significance`` (one example won of four is no evidence). Otherwise it is kept as
   ``rejected``, with its metrics and the reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..config import Settings
from ..errors import ModelError
from ..models.provider import ModelProvider
from ..models.registry import ModelVersion
from ..store import Store
from .gate import Comparison, compare

if TYPE_CHECKING:
    from .common import Progress

HOLDOUT_SHARE = 0.2
FOLDS = 5
VALIDATION_MAX = 500  # examples of each validation_data file scored (a fixed sample)
MAX_REPEAT = 20


@dataclass
class Example:
    key: str  # the document's sha256 (or its id)
    text: str
    value: dict[str, Any]  # the correction's value: {"label"}, {"entities"}, {"sentences", "summary"}
    created_at: str = ""
    features: np.ndarray | None = None  # the document's stored embedding, where the task uses it


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
    """What retraining one task needs; each task fills it in."""

    task: ClassVar[str]
    score_name: ClassVar[str] = "accuracy"  # what ``scores`` gives per example
    min_examples: ClassVar[int] = 6
    cross_validate: bool = False  # cheap to train: measure by cross-validation, train on all

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

    @property
    def store(self) -> Store:
        return self.provider.registry().store

    def usable(self, value: dict[str, Any]) -> bool:
        """Whether a correction's value can be a training example."""
        return True

    def prepare(self, examples: list[Example]) -> list[Example]:
        """The examples as the task trains on them (e.g. labels unified); by default unchanged."""
        return examples

    def check(self, train: list[Example]) -> None:
        """Raise ModelError when the training examples cannot make a model."""

    def current(self) -> tuple[Any, str]:
        """The model in use and its name (a version, "shipped" or "zero-shot")."""
        raise NotImplementedError

    def train(self, train: list[Example], current: Any, progress: Progress | None = None) -> Candidate:
        raise NotImplementedError

    def scores(self, model: Any, examples: list[Example]) -> list[float]:
        """Per-example scores in [0, 1], in the order of ``examples``."""
        raise NotImplementedError

    def validation_data(self, paths: list[Path]) -> list[Example]:
        """Examples read from the task's ``[training] validation_data`` files."""
        raise ModelError(f"{self.task} takes no validation_data files")

    def kept_examples(self, current: Any, corrections: list[Example]) -> list[Example]:
        """The model in use's confident answers on documents nobody corrected, as examples: a
        candidate should keep them (``drift``). None by default."""
        return []

    def refuse(self, candidate: Any, current: Any) -> str | None:
        """Why the candidate cannot replace the model in use whatever it measures, or None."""
        return None

    def current_folder(self, shipped: Path) -> Path:
        """Where the model in use lies: the promoted version, else the shipped artifact."""
        current = self.provider.registry().current(self.task)
        return Path(current.path) if current is not None else shipped


def _hash(key: str, salt: str = "holdout") -> float:
    return int(hashlib.sha256(f"{salt}\0{key}".encode()).hexdigest()[:8], 16) / 0x100000000


def split_keys(keys: list[str], share: float = HOLDOUT_SHARE, minimum: int = 5) -> set[str]:
    """The held-out keys: those whose hash falls below ``share``, at least ``minimum`` of them
    (but never more than half)."""
    ranked = sorted(set(keys), key=_hash)
    held = {k for k in ranked if _hash(k) < share}
    return held | set(ranked[: min(minimum, len(ranked) // 2)])


def folds(keys: list[str], k: int = FOLDS) -> list[set[str]]:
    """``k`` folds of the keys (fewer when there are fewer keys), fixed by a hash of each."""
    ranked = sorted(set(keys), key=lambda key: _hash(key, "fold"))
    k = max(1, min(k, len(ranked)))
    return [set(ranked[i::k]) for i in range(k)]


def sample(items: list[Any], n: int, salt: str) -> list[Any]:
    """A fixed sample of ``n`` items (the same from one run to the next), in their order."""
    if len(items) <= n:
        return list(items)
    ranked = sorted(range(len(items)), key=lambda i: hashlib.sha256(f"{salt}\0{i}".encode()).digest())
    return [items[i] for i in sorted(ranked[:n])]


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
            key = row["sha256"] or f"doc:{row['document_id']}"
            out.append(Example(key, text, row["value"], created_at=row["created_at"]))
    return out


def learned_keys(version: ModelVersion | None, examples: list[Example]) -> set[str]:
    """The corrections the model in use was trained on (none for a built-in or file-trained one)."""
    if version is None or version.meta.get("trained_from") != "corrections":
        return set()
    if "trained_keys" in version.meta:
        return set(version.meta["trained_keys"])
    # written before trained_keys were recorded: what existed then, but its held-out share
    held = set(version.meta.get("holdout_keys") or [])
    return {e.key for e in examples if e.created_at and e.created_at <= version.created_at} - held


def retrain(
    settings: Settings,
    r: TaskRetrainer,
    *,
    promote: bool = True,
) -> RetrainResult:
    """Train the task of ``r`` from the corrections, register the candidate, and promote it if
    it passes the gate."""
    task, conf = r.task, settings.training
    registry = r.provider.registry()
    examples = r.prepare([e for e in corrections_examples(registry.store, task) if r.usable(e.value)])
    if len(examples) < r.min_examples:
        raise ModelError(
            f"retraining {task} needs at least {r.min_examples} corrections; there are "
            f"{len(examples)} (`workflowd review` or `workflowd correct` adds them)"
        )
    current_version = registry.current(task)
    learned = learned_keys(current_version, examples)
    now, now_name = r.current()
    if r.cross_validate:
        measured_on, evidence = _cross_validate(r, examples, learned, now)
        trained, held_keys = examples, set[str]()
        r.check(trained)
        candidate = r.train(trained, now, r.progress)
    else:
        previous = set((current_version.meta.get("holdout_keys") or []) if current_version else [])
        held_keys: set[str] = split_keys([e.key for e in examples], minimum=conf.min_held_out) | previous
        # neither the new held-out share nor the one the model in use was measured on is trained on
        trained = [e for e in examples if e.key not in held_keys]
        r.check(trained)
        candidate = r.train(trained, now, r.progress)
        held = [e for e in examples if e.key in held_keys and e.key not in learned]
        measured_on = "held-out corrections"
        evidence = compare(r.scores(candidate.model, held), r.scores(now, held), margin=conf.margin,
                           significance=conf.significance)

    comparison: dict[str, Any] = {
        "current_version": now_name,
        "margin": conf.margin,
        "significance": conf.significance,
        "score": r.score_name,
        "measured_by": "cross-validation" if r.cross_validate else "held-out share",
        "held_out": evidence.public(),
    }
    reasons = []
    refusal = r.refuse(candidate.model, now)
    if refusal:
        reasons.append(refusal)
    if evidence.worse:
        reasons.append(_worse(measured_on, evidence, r.score_name, conf.margin))
    if r.cross_validate and learned:
        # the candidate learnt from them too: doing worse there means the new corrections
        # contradict the old ones, and the old ones are not to be forgotten
        old = [e for e in examples if e.key in learned]
        c = compare(r.scores(candidate.model, old), r.scores(now, old), margin=conf.margin,
                    significance=conf.significance)
        comparison["learned"] = c.public()
        if c.worse:
            reasons.append(_worse(f"the corrections {now_name} learnt from", c, r.score_name, conf.margin))
    files = [Path(p).expanduser() for p in conf.validation_data.get(task, [])]
    if files:
        exs = sample(r.validation_data(files), VALIDATION_MAX, task)
        c = compare(r.scores(candidate.model, exs), r.scores(now, exs), margin=conf.margin,
                    significance=conf.significance)
        comparison["validation_data"] = c.public()
        if c.worse:
            reasons.append(_worse("the validation data", c, r.score_name, conf.margin))
    kept = r.kept_examples(now, examples)
    if kept:
        c = compare(r.scores(candidate.model, kept), [1.0] * len(kept), margin=conf.drift,
                    significance=conf.significance)
        comparison["kept"] = c.public()
        if c.worse:
            reasons.append(
                f"changes {c.losses} of the {c.n} confident answers of {now_name} on documents nobody "
                f"corrected (more than drift = {conf.drift:g})"
            )
    if not reasons:
        if evidence.n < conf.min_held_out:
            reasons.append(
                f"too little evidence: measured on {evidence.n} {measured_on}, at least "
                f"{conf.min_held_out} are needed (min_held_out); more corrections will do"
            )
        elif not evidence.better:
            reasons.append(
                f"not measurably better than {now_name} on {evidence.n} {measured_on} "
                f"({evidence.wins} better, {evidence.losses} worse, p = {evidence.p_better:.3f}; "
                f"needs p < {conf.significance:g})"
            )

    meta = {
        **candidate.meta,
        "trained_from": "corrections",
        "holdout_keys": sorted(held_keys),
        "trained_keys": sorted({e.key for e in trained}),
        "data": {**candidate.meta.get("data", {}), "corrections": len(examples), "held_out": evidence.n},
        "comparison": comparison,
    }
    metrics = {**candidate.metrics, "held_out_corrections": comparison["held_out"]}
    version = registry.register(
        task,
        lambda folder: candidate.save(folder, meta),
        base_model=settings.model.base,
        metrics=metrics,
        meta=meta,
    )
    if reasons:
        reason = "; ".join(reasons)
        registry.reject(task, version.version, reason)
        return RetrainResult(task, registry.get(task, version.version), False, reason, comparison)
    why = f"better on {evidence.n} {measured_on} ({evidence.wins} better, {evidence.losses} worse)"
    if not promote:
        return RetrainResult(task, version, False, f"{why}; not promoted (--no-promote)", comparison)
    version = registry.promote(task, version.version)
    return RetrainResult(task, version, True, why, comparison)


def _cross_validate(
    r: TaskRetrainer, examples: list[Example], learned: set[str], now: Any
) -> tuple[str, Comparison]:
    """Each fold of the corrections the model in use never learnt from, scored by a candidate
    trained without that fold, against the model in use."""
    conf = r.settings.training
    fair = [e for e in examples if e.key not in learned]
    cand_scores: list[float] = []
    now_scores: list[float] = []
    for fold in folds([e.key for e in fair]) if fair else []:
        rest = [e for e in examples if e.key not in fold]
        held = [e for e in fair if e.key in fold]
        try:
            r.check(rest)
        except ModelError:
            continue  # without this fold too little is left to train on: it cannot be measured
        model = r.train(rest, now, None).model
        cand_scores += r.scores(model, held)
        now_scores += r.scores(now, held)
    what = "corrections it was not trained on (cross-validated)"
    return what, compare(cand_scores, now_scores, margin=conf.margin, significance=conf.significance)


def _worse(label: str, c: Comparison, score: str, margin: float) -> str:
    return (
        f"worse on {label} ({score} {c.candidate:.3f} < {c.current:.3f} - {margin}; "
        f"{c.losses} lost, {c.wins} won of {c.n}, p = {c.p_value:.3f})"
    )

"""The ``classify`` task: a label for each document, with a calibrated confidence, or none and
a review flag.

Before any training it classifies zero-shot from the label descriptions in the config; once a
trained version is promoted it uses that, and picks up later promotions and rollbacks at its
next batch, without a restart. Corrections only add knowledge: a classifier retrained from
them knows every described label and every label the model in use knew, plus the new ones;
the labels without corrections keep their weights (workflowd/training/classify.py).
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import DataError, ModelError
from ..hookspecs import hookimpl
from ..models.in_use import ModelInUse
from ..pipeline.step import EMBEDDING, Document, Step, StepContext, StepResult
from ..training.data import LabelledTexts, load_labelled_jsonl
from ..training.metrics import classification_metrics
from ..training.retrain import Candidate, Example, TaskRetrainer, sample
from .base import Task, Trained, TrainOptions
from .corrections import LabelCorrection, fold_label

if TYPE_CHECKING:
    from ..store import Store
    from ..training.classify import ClassifyParams
    from ..training.common import Progress

log = logging.getLogger("workflowd.tasks")

MAX_UNLABELED = 20_000  # the newest documents' embeddings used for self-training
KEPT_DOCUMENTS = 300  # documents the candidate must keep the confident answers of

# A starting set for personal documents; replace it with your own in [steps.classify.labels].
DEFAULT_LABELS: dict[str, str] = {
    "invoice": "an invoice or a bill that asks for payment",
    "receipt": "a receipt or an order confirmation for something already paid",
    "bank": "a bank or credit card statement, or a letter from a bank",
    "tax": "taxes: a tax return, a tax assessment or a letter from the tax office",
    "insurance": "an insurance policy, an insurance claim or a letter from an insurer",
    "contract": "a contract or an agreement with terms and conditions",
    "medical": "health: a letter from a doctor or hospital, a prescription or test results",
    "travel": "travel: tickets, bookings, boarding passes and itineraries",
    "work": "work: a payslip, a job offer, or a letter from an employer or colleague",
    "newsletter": "a newsletter, an advertisement or a marketing e-mail",
    "personal": "a personal message from a friend or a family member",
}


class ClassifySettings(BaseModel):
    """Settings of the ``classify`` step (``[steps.classify]``).

    Attributes:
        labels: label -> one-line description; the descriptions drive zero-shot classification.
        template: the sentence each description is put into before it is embedded.
        threshold: below this confidence the document gets no label and is marked for review.
        multi_label: also give ``tags``: every label whose probability reaches its tag threshold.
        tag_threshold: the tag threshold of labels not in ``tag_thresholds``.
        tag_thresholds: per-label tag thresholds.
    """

    model_config = ConfigDict(extra="forbid")

    labels: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LABELS))
    template: str = "This text is about {description}."
    threshold: float = Field(0.8, ge=0.0, le=1.0)
    multi_label: bool = False
    tag_threshold: float = Field(0.3, ge=0.0, le=1.0)
    tag_thresholds: dict[str, float] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _two_labels(cls, labels: dict[str, str]) -> dict[str, str]:
        if len(labels) < 2:
            raise ValueError("give at least two labels")
        return labels

    @field_validator("template")
    @classmethod
    def _has_description(cls, template: str) -> str:
        if "{description}" not in template:
            raise ValueError("the template must contain {description}")
        try:
            template.format(description="x", label="y")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"the template can only use {{description}} and {{label}} ({exc})") from None
        return template


class Classify(Step):
    """Label each document, zero-shot or with the promoted trained model."""

    name = "classify"
    description = "a label with a calibrated confidence; abstains and asks for review below the threshold"
    Settings = ClassifySettings
    needs = frozenset({EMBEDDING})

    def __init__(self, settings: ClassifySettings, context: StepContext):
        super().__init__(settings, context)
        self.task = ClassifyTask(context.settings, context.models, settings)

    def warm_up(self) -> None:
        """Load the classifier in use (zero-shot: the label descriptions' embeddings)."""
        self.classifier()

    def classifier(self) -> Any:
        """The classifier in use: the promoted version, else zero-shot; reloaded when that changes."""
        return self.task.model().get(self.context.models)

    def run(self, doc: Document) -> StepResult:
        return self.run_batch([doc])[0]

    def run_batch(self, docs: list[Document]) -> list[StepResult]:
        clf = self.classifier()
        if clf.encoder is not None:  # a fine-tuned encoder of its own: one more pass
            X = np.stack([e.embedding for e in clf.encoder.encode_documents([d.text for d in docs])])
        else:
            X = np.stack([d.encoded.embedding for d in docs])
        return [self.decide(clf, p) for p in clf.proba(X)]

    def decide(self, clf: Any, probs: np.ndarray) -> StepResult:
        best = int(np.argmax(probs))
        confidence = float(probs[best])
        abstained = confidence < self.settings.threshold
        data: dict[str, Any] = {
            "label": None if abstained else clf.labels[best],
            "best_guess": clf.labels[best],
            "scores": {label: round(float(p), 4) for label, p in zip(clf.labels, probs, strict=True)},
            "abstained": abstained,
        }
        if self.settings.multi_label:
            data["tags"] = [
                label for label, p in zip(clf.labels, probs, strict=True)
                if p >= self.settings.tag_thresholds.get(label, self.settings.tag_threshold)
            ]
        return StepResult(data, confidence=confidence, model_version=clf.model_version, needs_review=abstained)


class ClassifyTask(Task):
    name = "classify"
    description = "a label per document: zero-shot from label descriptions, then learnt from corrections"
    step = Classify
    correction = LabelCorrection()
    builtin_name = "zero-shot"
    data_help = 'JSONL, one {"text", "label"} object per line'
    train_options = frozenset(
        {"method", "epochs", "lr", "batch_size", "weight_decay", "dropout", "val_share", "seed", "unlabeled"}
    )
    epoch_metric = "val macro-F1"

    def make_model(self) -> ModelInUse:
        from ..models import classifier as clf_mod

        step, models = self.step_settings, self.models
        return ModelInUse(
            self.name,
            load=lambda v: clf_mod.load(v.path, self.settings.model, version=v.version),
            builtin=lambda: clf_mod.zero_shot(models.encoder, step.labels, step.template),
            name=lambda clf: clf.model_version,
            logger=log,
        )

    def params(self, options: TrainOptions | None) -> ClassifyParams:
        from ..training.classify import METHODS, ClassifyParams

        o = options or TrainOptions(data=[])
        given = {k: getattr(o, k) for k in ("epochs", "lr", "batch_size", "weight_decay", "dropout", "val_share",
                                            "seed") if getattr(o, k) is not None}
        if o.method is not None and o.method not in METHODS:
            raise ModelError(f"unknown training method {o.method!r}; choose from {', '.join(METHODS)}")
        return ClassifyParams(method=o.method or "head", **given)

    def train(self, options: TrainOptions, progress: Progress | None = None) -> Trained:
        if len(options.data) != 1:
            raise DataError("classify trains on one data file")
        data = load_labelled_jsonl(options.data[0])
        from ..training.classify import train_classifier

        params = self.params(options)
        registry = self.models.registry()
        unlabeled = None
        if options.unlabeled and params.method == "head":
            _ids, unlabeled = registry.store.embeddings.matrix(self.settings.model.base, limit=MAX_UNLABELED)
        encoder = self.models.encoder
        outcome = train_classifier(encoder, data, params, self.step_settings.labels, progress, unlabeled)
        meta = {**outcome.meta, "data_file": str(options.data[0])}
        version, state = self.register(
            lambda folder: save_outcome(outcome, folder, encoder, meta),
            metrics=outcome.metrics,
            meta=meta,
            promote=options.promote,
        )
        m = outcome.metrics
        lines = [f"classify {version.version}: {state} ({outcome.meta['train_seconds']} s, "
                 f"{outcome.meta['data']['n']} examples, method {outcome.meta['method']})"]
        if "macro_f1" in m:
            lines.append(f"validation ({m['validation']}, n={m['n']}): accuracy {m['accuracy']:.4f}, "
                         f"macro-F1 {m['macro_f1']:.4f}, ECE {m['ece']:.4f}")
        else:
            lines.append("no validation: too few examples to hold any out")
        return Trained(version, lines)

    def retrain_params(self, options: TrainOptions | None) -> ClassifyParams:
        return self.params(options)

    def evaluate(self, path: Path, *, version: str | None = None, sentences: int | None = None) -> dict[str, Any]:
        data = load_labelled_jsonl(path)
        clf = self.resolve(version)
        unknown = sorted(set(data.labels) - set(clf.labels))
        if unknown:
            where = f"classify {clf.model_version}" if clf.version else "[steps.classify.labels] (zero-shot)"
            hint = " (`--version zero-shot` measures the label descriptions)" if clf.version else ""
            raise ModelError(
                f"labels in {path} that {where} does not know: {', '.join(unknown)}; "
                f"it knows: {', '.join(clf.labels)}{hint}"
            )
        encoder = clf.encoder or self.models.encoder
        X = np.stack([e.embedding for e in encoder.encode_documents(data.texts)])
        probs = clf.proba(X)
        predicted = [clf.labels[i] for i in probs.argmax(1)]
        metrics = classification_metrics(data.labels, predicted)
        threshold = self.step_settings.threshold
        kept = probs.max(1) >= threshold
        truth = np.array(data.labels)
        metrics["abstention"] = {
            "threshold": threshold,
            "coverage": float(kept.mean()),
            "accuracy_labelled": float((np.array(predicted)[kept] == truth[kept]).mean()) if kept.any() else None,
        }
        return {"task": self.name, "n": len(data), "model_version": clf.model_version, "metrics": metrics}

    def known_labels(self, store: Store) -> list[str]:
        """The described labels, those of the model in use, and those of earlier corrections."""
        current = self.models.registry().current(self.name)
        labels = list(self.step_settings.labels) + list((current.meta.get("labels") if current else None) or [])
        labels += store.corrections.labels(self.name)
        return list(dict.fromkeys(labels))

    def describe(self, data: dict[str, Any], confidence: float | None = None) -> list[str]:
        conf = f" ({confidence:.2f})" if confidence is not None else ""
        if data.get("label"):
            line = f"{data['label']}{conf}"
        else:
            line = f"no label: below the threshold{conf}; best guess {data.get('best_guess')}"
        if data.get("tags"):
            line += f"; tags: {', '.join(data['tags'])}"
        return [line]


def save_outcome(outcome: Any, folder: Path, encoder: Any, meta: dict[str, Any]) -> None:
    """The head with its metadata and, for lora/full, the fine-tuned encoder weights (safetensors)."""
    from ..models import classifier as clf_mod

    clf_mod.save(outcome.classifier, folder, meta)
    if outcome.tuned_model is None:
        return
    if outcome.classifier.kind == "lora":
        outcome.tuned_model.save_pretrained(str(folder / "adapter"))
    else:
        outcome.tuned_model.save_pretrained(str(folder / "encoder"), safe_serialization=True)
        encoder.tokenizer.save_pretrained(str(folder / "encoder"))


class ClassifyRetrainer(TaskRetrainer):
    """Retraining ``classify`` from corrections: the classifier in use goes on learning (its head's
    rows, where it has one) with every label it knew, the described ones and the new ones; only
    the labels with corrections (or replayed examples) learn. Measured by cross-validation
    when the head is trained (seconds), else on a held-out share."""

    task = "classify"
    score_name = "accuracy"

    def __init__(self, *args: Any, **kw: Any):
        from ..training.classify import ClassifyParams

        super().__init__(*args, **kw)
        self.params = self.params or ClassifyParams()
        self.cross_validate = self.params.method == "head"
        self.step = ClassifyTask(self.settings, self.provider).step_settings
        self._embedded: dict[str, np.ndarray] = {}

    def usable(self, value: dict[str, Any]) -> bool:
        return isinstance(value.get("label"), str) and bool(value["label"].strip())

    def prepare(self, examples: list[Example]) -> list[Example]:
        """Labels unified without regard to case with the described ones, the model in use's and
        each other (corrections stored before labels were matched so)."""
        current = self.provider.registry().current(self.task)
        known = [*self.step.labels, *((current.meta.get("labels") or []) if current else [])]
        canonical = {}
        for label in known + [e.value["label"] for e in examples]:
            canonical.setdefault(fold_label(label), " ".join(label.split()))
        return [Example(e.key, e.text, {**e.value, "label": canonical[fold_label(e.value["label"])]}, e.created_at)
                for e in examples]

    def current(self) -> tuple[Any, str]:
        clf = ClassifyTask(self.settings, self.provider, self.step).resolve()
        return clf, clf.model_version

    @functools.cached_property
    def _unlabeled(self) -> np.ndarray:
        """The stored documents' embeddings, self-training's unlabelled data (read once: every
        fold of the cross-validation trains on them)."""
        return self.store.embeddings.matrix(self.settings.model.base, limit=MAX_UNLABELED)[1]

    @functools.cache  # noqa: B019 - one retrainer, one retrain: the files are read once
    def _replay(self) -> tuple[list[str], list[str], int]:
        texts: list[str] = []
        labels: list[str] = []
        for path in self.settings.training.replay_data.get(self.task, []):
            data = load_labelled_jsonl(Path(path).expanduser())
            rows = sample(list(zip(data.texts, data.labels, strict=True)), self.settings.training.replay, str(path))
            texts += [t for t, _ in rows]
            labels += [label for _, label in rows]
        return texts, labels, len(texts)

    def train(self, train: list[Example], current: Any, progress: Progress | None = None) -> Candidate:
        from ..training.classify import Continue, train_classifier

        texts, labels = [e.text for e in train], [e.value["label"] for e in train]
        r_texts, r_labels, replayed = self._replay()
        descriptions = self.step.labels
        order = [*current.labels, *descriptions, *sorted(set(labels + r_labels))]
        all_labels = list(dict.fromkeys(order))
        start = {}
        if current.encoder is None:  # zero-shot or a head: its rows, at temperature 1
            start = {
                label: (current.weight[i] / current.temperature, float(current.bias[i] / current.temperature))
                for i, label in enumerate(current.labels)
            }
        go_on = Continue(all_labels, start, set(labels + r_labels), temperature=1.0)
        p = self.params
        unlabeled = None
        embeddings = None
        if p.method == "head":
            unlabeled = self._unlabeled
            embeddings = self._embed(train + [Example(f"replay:{i}", t, {}) for i, t in enumerate(r_texts)])
        data = LabelledTexts(texts + r_texts, labels + r_labels, "corrections")
        outcome = train_classifier(self.encoder, data, p, descriptions, progress, unlabeled, go_on, embeddings)
        encoder = self.encoder
        meta = {**outcome.meta, "replay": {"data_files": self.settings.training.replay_data.get(self.task, []),
                                           "examples": replayed}}
        return Candidate(
            outcome.classifier,
            lambda folder, full_meta: save_outcome(outcome, folder, encoder, full_meta),
            outcome.metrics,
            meta,
        )

    def _embed(self, examples: list[Example]) -> np.ndarray:
        """The shared encoder's document embeddings of the examples, computed once per example."""
        todo = [e for e in examples if e.features is None and e.key not in self._embedded]
        for e, enc in zip(todo, self.encoder.encode_documents([e.text for e in todo]), strict=True):
            self._embedded[e.key] = enc.embedding
        return np.stack([e.features if e.features is not None else self._embedded[e.key] for e in examples])

    def scores(self, model: Any, examples: list[Example]) -> list[float]:
        """1 for the right label (by the highest probability; the kept answers: with the
        threshold, so that an abstention loses them), else 0."""
        if not examples:
            return []
        if model.encoder is None:
            X = self._embed(examples)
        else:
            texts = [e.text or self._text(e.key) for e in examples]
            X = np.stack([enc.embedding for enc in model.encoder.encode_documents(texts)])
        probs = model.proba(X)
        out = []
        for p, e in zip(probs, examples, strict=True):
            best = int(p.argmax())
            label = model.labels[best] if not e.value.get("confident") or p[best] >= self.step.threshold else None
            out.append(float(label is not None and fold_label(label) == fold_label(e.value["label"])))
        return out

    def _text(self, key: str) -> str:
        doc = self.store.documents.get(int(key.removeprefix("doc:"))) or {}
        return doc.get("text") or ""

    def kept_examples(self, current: Any, corrections: list[Example]) -> list[Example]:
        """Documents nobody corrected that the model in use labels confidently, with a label no
        correction names (neither as the answer nor as what the model had said)."""
        if current.encoder is not None:  # no stored embeddings of its own encoder's
            return []
        named = set()
        for row in self.store.corrections.in_force(self.task):
            named.add(fold_label(str(row["value"].get("label", ""))))
            previous = row["previous"] or {}
            named.add(fold_label(str(previous.get("label") or previous.get("best_guess") or "")))
        ids, X = self.store.embeddings.uncorrected(self.task, self.settings.model.base, limit=KEPT_DOCUMENTS)
        if not ids:
            return []
        probs = current.proba(X)
        out = []
        for doc_id, x, p in zip(ids, X, probs, strict=True):
            best = int(p.argmax())
            label = current.labels[best]
            if p[best] >= self.step.threshold and fold_label(label) not in named:
                out.append(Example(f"doc:{doc_id}", "", {"label": label, "confident": True}, features=x))
        return out

    def refuse(self, candidate: Any, current: Any) -> str | None:
        """A candidate must know every label the model in use knows and every described one."""
        have = {fold_label(label) for label in candidate.labels}
        missing = [label for label in dict.fromkeys([*current.labels, *self.step.labels]) if fold_label(label) not in have]
        if missing:
            return (f"it drops label(s) {', '.join(missing)}: a retrained classifier must know every label "
                    f"the model in use knows and every described one")
        return None

    def validation_data(self, paths: list[Path]) -> list[Example]:
        out = []
        for path in paths:
            data = load_labelled_jsonl(path)
            out += [
                Example(f"{path}:{i}", t, {"label": label})
                for i, (t, label) in enumerate(zip(data.texts, data.labels, strict=True))
            ]
        return out


ClassifyTask.retrainer = ClassifyRetrainer


@hookimpl
def register_tasks() -> list[type[Task]]:
    return [ClassifyTask]


@hookimpl
def register_steps() -> list[type[Step]]:
    return [Classify]

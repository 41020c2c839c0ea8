"""Is a document urgent? An example workflowd plugin that adds a *task*: a step whose answers
you can correct (``workflowd review``, ``workflowd correct``), train from a file
(``workflowd train --task urgency --data FILE``), retrain from your corrections and evaluate
(``workflowd eval --task urgency --data FILE``), like the built-in tasks.

The model is deliberately small: word counts per label with add-one smoothing (naive Bayes);
before any training it looks for words such as "urgent" or "immediately". Copy this file
into your plugins folder and add ``"urgency"`` to a pipeline::

    plugins_dir = "~/.config/workflowd/plugins"

    [pipelines.default]
    steps = ["classify", "entities", "summarize", "sentiment", "urgency"]

Training files are JSONL ``{"text", "label"}`` lines, labels ``urgent`` or ``normal``.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

from workflowd import Document, Step, StepResult, hookimpl
from workflowd.datafiles import read_jsonl
from workflowd.models.in_use import ModelInUse
from workflowd.tasks import LabelCorrection, Task, Trained
from workflowd.training.retrain import Candidate, Example, TaskRetrainer

LABELS = ("urgent", "normal")
WORDS = re.compile(r"[a-zà-ÿ]+")
CUES = {"urgent", "urgently", "asap", "immediately", "overdue", "final", "deadline", "today"}


class WordModel:
    """Per-label word log-probabilities; ``version`` names it in results and in `models list`."""

    def __init__(self, logp: dict[str, dict[str, float]], prior: dict[str, float], version: str):
        self.logp, self.prior, self.version = logp, prior, version

    @classmethod
    def fit(cls, texts: list[str], labels: list[str], version: str = "candidate") -> WordModel:
        counts = {label: Counter() for label in LABELS}
        for text, label in zip(texts, labels, strict=True):
            counts[label].update(WORDS.findall(text.lower()))
        vocab = set().union(*counts.values())
        logp = {
            label: {w: math.log((c[w] + 1) / (sum(c.values()) + len(vocab) + 1)) for w in vocab}
            for label, c in counts.items()
        }
        prior = {label: math.log((labels.count(label) + 1) / (len(labels) + 2)) for label in LABELS}
        return cls(logp, prior, version)

    def predict(self, text: str) -> tuple[str, float]:
        words = WORDS.findall(text.lower())
        if not self.logp["urgent"]:  # the built-in rule: cue words
            hits = sum(w in CUES for w in words)
            return ("urgent", min(0.95, 0.6 + 0.15 * hits)) if hits else ("normal", 0.6)
        scores = {label: self.prior[label] + sum(self.logp[label].get(w, 0.0) for w in words) for label in LABELS}
        top = max(scores, key=scores.get)
        z = sum(math.exp(s - scores[top]) for s in scores.values())
        return top, 1.0 / z

    def save(self, folder: Path) -> None:
        (folder / "model.json").write_text(json.dumps({"logp": self.logp, "prior": self.prior}))

    @classmethod
    def load(cls, folder: Path, version: str) -> WordModel:
        data = json.loads((folder / "model.json").read_text())
        return cls(data["logp"], data["prior"], version)


BUILTIN = WordModel({label: {} for label in LABELS}, dict.fromkeys(LABELS, 0.0), "cue words")


class Urgency(Step):
    """Urgent or not, with a confidence; below 0.7 it asks for review."""

    name = "urgency"
    description = "urgent or normal, from the words of the document (an example plugin task)"

    def __init__(self, settings: Any, context: Any):
        super().__init__(settings, context)
        self.task = UrgencyTask(context.settings, context.models, settings)

    def run(self, doc: Document) -> StepResult:
        model = self.task.model().get(self.context.models)
        label, confidence = model.predict(doc.text)
        return StepResult({"label": label}, confidence=round(confidence, 4), model_version=model.version,
                          needs_review=confidence < 0.7)


def _read(path: Path) -> tuple[list[str], list[str]]:
    rows, _sha = read_jsonl(path)
    correction = UrgencyTask.correction
    return [r["text"] for _, r in rows], [correction.canonical(str(r.get("label", ""))) for _, r in rows]


class UrgencyTask(Task):
    name = "urgency"
    description = "urgent or normal (an example plugin task)"
    step = Urgency
    correction = LabelCorrection(labels=LABELS)
    builtin_name = "cue words"
    data_help = 'JSONL, one {"text", "label"} object per line; labels urgent or normal'
    epoch_metric = None

    def make_model(self) -> ModelInUse:
        return ModelInUse(
            self.name,
            load=lambda v: WordModel.load(Path(v.path), v.version),
            builtin=lambda: BUILTIN,
            name=lambda m: m.version,
            logger=logging.getLogger("workflowd.plugins.urgency"),
        )

    def train(self, options: Any, progress: Any = None) -> Trained:
        texts, labels = [], []
        for path in options.data:
            t, lb = _read(path)
            texts, labels = texts + t, labels + lb
        model = WordModel.fit(texts, labels)
        version = self.models.registry().register(
            self.name, model.save, base_model=None, metrics={"n": len(texts)},
            meta={"data_files": [str(p) for p in options.data]}, promote=options.promote,
        )
        return Trained(version, [f"urgency {version.version}: {version.status} ({len(texts)} examples)"])

    def evaluate(self, path: Path, *, version: str | None = None, sentences: int | None = None) -> dict[str, Any]:
        from workflowd.training.metrics import classification_metrics

        texts, labels = _read(path)
        model = self.resolve(version)
        predicted = [model.predict(t)[0] for t in texts]
        return {"task": self.name, "n": len(texts), "model_version": model.version,
                "metrics": classification_metrics(labels, predicted)}

    def describe(self, data: dict[str, Any], confidence: float | None = None) -> list[str]:
        return [f"{data['label']}" + (f" ({confidence:.2f})" if confidence is not None else "")]


class UrgencyRetrainer(TaskRetrainer):
    task = "urgency"
    cross_validate = True  # it trains in milliseconds

    def usable(self, value: dict[str, Any]) -> bool:
        return value.get("label") in LABELS

    def current(self) -> tuple[Any, str]:
        model = UrgencyTask(self.settings, self.provider).resolve()
        return model, model.version

    def train(self, train: list[Example], current: Any, progress: Any = None) -> Candidate:
        model = WordModel.fit([e.text for e in train], [e.value["label"] for e in train])
        return Candidate(model, lambda folder, meta: model.save(folder), {}, {"data": {"n": len(train)}})

    def scores(self, model: Any, examples: list[Example]) -> list[float]:
        return [float(model.predict(e.text)[0] == e.value["label"]) for e in examples]


UrgencyTask.retrainer = UrgencyRetrainer


@hookimpl
def register_steps() -> list[type[Step]]:
    return [Urgency]


@hookimpl
def register_tasks() -> list[type[Task]]:
    return [UrgencyTask]

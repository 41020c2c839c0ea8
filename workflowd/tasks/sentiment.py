"""The ``sentiment`` task: a score in [-1, 1] and negative / neutral / positive with confidence.

The model is the promoted trained version or the one shipped with workflowd, trained on SST-2
and the Financial PhraseBank (workflowd/artifacts/sentiment/MODEL_CARD.md). The shipped one is a
head on the shared pass of the multi-task encoder, each sentence the span of its tokens there:
no pass of its own. A trained version (files or corrections) has its own LoRA adapter: one
more encoder pass over the document's sentences. A document's score
is the length-weighted mean of its sentences' probabilities (workflowd/sentiment/model.py); the
most negative and most positive sentences are kept beside it, with their offsets.

Retraining from corrections goes on from the model in use (its adapter and head, held close to
it by L2-SP) on the corrected documents, with a replay of sentences it was trained on
(``replay_data``) or, without them, of sentences from uncorrected documents labelled by itself.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ..hookspecs import hookimpl
from ..models.in_use import ModelInUse
from ..pipeline.step import Document, Step, StepContext, StepResult
from ..readable import readable_sentences
from ..sentences import split_sentences
from ..sentiment import LABELS, SentimentData, load_sentiment_file, normalise_label
from ..training.retrain import Candidate, Example, TaskRetrainer, repeats, sample
from .base import Task, Trained, TrainOptions
from .corrections import LabelCorrection

if TYPE_CHECKING:
    from ..training.common import Progress
    from ..training.sentiment import SentimentParams

log = logging.getLogger("workflowd.tasks")
SHIPPED = Path(__file__).resolve().parent.parent / "artifacts" / "sentiment"

PSEUDO_MIN_CONFIDENCE = 0.7  # a sentence the model in use is less sure of is not replayed
MIN_PER_EPOCH = 256  # corrections shown per epoch, repeated when fewer
ANCHOR = 0.3  # L2-SP strength, as for entities (benchmarks/forgetting_tasks.py)


class SentimentSettings(BaseModel):
    """Settings of the ``sentiment`` step (``[steps.sentiment]``).

    Attributes:
        max_sentences: sentences read per document (the first ones); bounds the cost of a
            huge file.
    """

    model_config = ConfigDict(extra="forbid")

    max_sentences: int = Field(400, ge=1)


def _sentence(text: str, found: tuple[int, int, float] | None) -> dict | None:
    if found is None:
        return None
    start, end, score = found
    return {"start": start, "end": end, "text": text[start:end], "score": round(score, 4)}


class Sentiment(Step):
    """How positive or negative the document is."""

    name = "sentiment"
    description = "a score in [-1, 1] and negative / neutral / positive, from the document's sentences"
    Settings = SentimentSettings

    def __init__(self, settings: SentimentSettings, context: StepContext):
        super().__init__(settings, context)
        self.task = SentimentTask(context.settings, context.models, settings)

    def warm_up(self) -> None:
        """Load the sentiment model in use."""
        self.task.model().get(self.context.models)

    def forks(self) -> frozenset[int]:
        """The shipped model reads the last two layers of the shared pass; a trained one, nothing."""
        return self.task.model().get(self.context.models).forks()

    def run(self, doc: Document) -> StepResult:
        return self.run_batch([doc])[0]

    def run_batch(self, docs: list[Document]) -> list[StepResult]:
        model = self.task.model().get(self.context.models)
        # of a mail, the sentences its sender wrote: not the headers, quotes or list footers
        read = [readable_sentences(d.text, d.media_type, d.meta) for d in docs]
        wanted = model.forks()
        shared = bool(wanted) and all(d.encoded is not None and wanted <= d.encoded.fork_states.keys() for d in docs)
        results = model.documents([d.text for d in docs], max_sentences=self.settings.max_sentences, sentences=read,
                                  encoded=[d.encoded for d in docs] if shared else None)
        out = []
        for doc, r in zip(docs, results, strict=True):
            data = {
                "label": r.label,
                "score": round(r.score, 4),
                "confidence": round(r.confidence, 4),
                "probabilities": {k: round(float(p), 4) for k, p in zip(LABELS, r.probs, strict=True)},
                "sentences": r.sentences,
                "most_negative": _sentence(doc.text, r.most_negative),
                "most_positive": _sentence(doc.text, r.most_positive),
            }
            out.append(StepResult(data, confidence=r.confidence, model_version=model.version))
        return out


class SentimentTask(Task):
    name = "sentiment"
    description = "negative / neutral / positive and a score, from the document's sentences"
    step = Sentiment
    correction = LabelCorrection(labels=LABELS, aliases=normalise_label)
    data_help = ("JSONL {\"text\", \"label\"} or TSV with sentence/text and label columns; labels "
                 "negative/neutral/positive or 0/1; --data once per file")
    train_options = frozenset({"epochs", "lr", "batch_size", "val_share", "seed"})
    epoch_metric = "val accuracy"

    def make_model(self) -> ModelInUse:
        from ..sentiment.model import load_sentiment

        return self.saved_model(lambda folder, v: load_sentiment(folder, self.models.encoder, version=v), SHIPPED)

    def train(self, options: TrainOptions, progress: Progress | None = None) -> Trained:
        """The model from one or more labelled files (JSONL or TSV), trained together."""
        from ..training.sentiment import SentimentParams, train_sentiment

        paths = options.data
        sources = [load_sentiment_file(p) for p in paths]
        params = options.apply(SentimentParams())
        if options.val_share is not None:
            params.val_share = options.val_share
        encoder = self.models.encoder
        outcome = train_sentiment(encoder, sources, params, progress)
        meta = {**outcome.meta, "data_files": [str(p) for p in paths], "history": outcome.history}
        version, state = self.register(
            lambda folder: outcome.model.save(folder, outcome.adapter_model, {**meta, "metrics": outcome.metrics}),
            metrics=outcome.metrics,
            meta=meta,
            promote=options.promote,
        )
        lines = [f"sentiment {version.version}: {state} ({outcome.meta['train_seconds']} s, "
                 f"best epoch {outcome.meta['best_epoch']})"]
        for name, v in outcome.metrics["validation"].items():
            lines.append(f"validation {name} (n={sum(r['support'] for r in v['per_class'].values())}): "
                         f"accuracy {v['accuracy']:.4f}, macro-F1 {v['macro_f1']:.4f}")
        return Trained(version, lines)

    def retrain_params(self, options: TrainOptions | None) -> SentimentParams:
        """Going on from a trained model: a lower learning rate, two epochs, no validation split
        (the held-out corrections judge the result), the weights held close to where they start."""
        from ..training.sentiment import SentimentParams

        params = SentimentParams(epochs=2, lr=3e-4, head_lr=1e-3, val_share=0.0, warmup_share=0.1, anchor=ANCHOR)
        return options.apply(params) if options else params

    def evaluate(self, path: Path, *, version: str | None = None, sentences: int | None = None) -> dict[str, Any]:
        """Accuracy and macro-F1 of the document labels the step gives; on a file with no neutral
        example (SST-2), only negative against positive is compared."""
        from ..training.sentiment import sentiment_metrics

        data = load_sentiment_file(path)
        model = self.resolve(version)
        return {"task": self.name, "n": len(data), "model_version": model.version,
                "metrics": sentiment_metrics(model, data)}

    def describe(self, data: dict[str, Any], confidence: float | None = None) -> list[str]:
        conf = f", confidence {confidence:.2f}" if confidence is not None else ""
        lines = [f"{data.get('label')} (score {data.get('score', 0):+.2f}{conf})"]
        for key, name in (("most_negative", "most negative"), ("most_positive", "most positive")):
            s = data.get(key)
            if s:
                lines.append(f"{name} ({s['score']:+.2f}): {' '.join(s['text'].split())}")
        return lines


class SentimentRetrainer(TaskRetrainer):
    task = "sentiment"
    score_name = "accuracy"

    def usable(self, value: dict[str, Any]) -> bool:
        return value.get("label") in LABELS

    def current(self) -> tuple[Any, str]:
        model = SentimentTask(self.settings, self.provider).resolve()
        return model, model.version or "shipped"

    def _replay(self, current: Any) -> tuple[list[SentimentData], dict[str, Any]]:
        conf = self.settings.training
        files = conf.replay_data.get(self.task, [])
        if files:
            out = []
            for path in files:
                data = load_sentiment_file(Path(path).expanduser())
                rows = sample(list(zip(data.texts, data.labels, strict=True)), conf.replay // len(files), str(path))
                out.append(SentimentData([t for t, _ in rows], [lb for _, lb in rows], data.sha256, str(path)))
            return out, {"data_files": [str(p) for p in files], "examples": sum(len(d) for d in out)}
        if self.task not in conf.pseudo_rehearsal:
            return [], {"none": "no replay_data, and pseudo_rehearsal is off for this task"}
        texts = self.store.documents.texts_without_correction(self.task, conf.replay)
        sentences = sample(
            [s.text for t in texts for s in split_sentences(t) if len(s.text) > 15], conf.replay, "sentiment"
        )
        probs = current.sentence_probs(sentences)
        keep = [i for i in range(len(sentences)) if probs[i].max() >= PSEUDO_MIN_CONFIDENCE]
        labels = [LABELS[int(probs[i].argmax())] for i in keep]
        data = SentimentData(
            [sentences[i] for i in keep], labels, "", "replay: the model in use's answers", three_way=True
        )
        return ([data] if len(data) else []), {"pseudo_labels": len(data), "documents": len(texts)}

    def train(self, train: list[Example], current: Any, progress: Progress | None = None) -> Candidate:
        replay, replay_meta = self._replay(current)
        repeat = repeats(len(train), sum(len(d) for d in replay), MIN_PER_EPOCH)
        corrections = SentimentData(
            [e.text for e in train] * repeat,
            [e.value["label"] for e in train] * repeat,
            "",
            "corrections",
            three_way=True,
        )
        from ..training.sentiment import train_sentiment

        init = self.current_folder(SHIPPED)
        outcome = train_sentiment(self.encoder, [corrections, *replay], self.params, progress, init=init)

        def save(folder: Path, meta: dict[str, Any]) -> None:
            outcome.model.save(folder, outcome.adapter_model, {**meta, "metrics": outcome.metrics})

        meta = {
            **outcome.meta,
            "replay": replay_meta,
            "history": outcome.history,
            "corrections_repeated": repeat,
            "data": {"n": len(train) + sum(len(d) for d in replay)},
        }
        return Candidate(outcome.model, save, outcome.metrics, meta)

    def scores(self, model: Any, examples: list[Example]) -> list[float]:
        if not examples:
            return []
        docs = model.documents([e.text for e in examples])
        out = []
        for d, e in zip(docs, examples, strict=True):
            if e.value.get("binary"):  # a file without neutral: which of the two is likelier
                label = "positive" if d.probs[2] >= d.probs[0] else "negative"
            else:
                label = d.label
            out.append(float(label == e.value["label"]))
        return out

    def validation_data(self, paths: list[Path]) -> list[Example]:
        out = []
        for path in paths:
            data = load_sentiment_file(path)
            out += [
                Example(f"{path}:{i}", t, {"label": lb, "binary": data.binary})
                for i, (t, lb) in enumerate(zip(data.texts, data.labels, strict=True))
            ]
        return out


SentimentTask.retrainer = SentimentRetrainer


@hookimpl
def register_tasks() -> list[type[Task]]:
    return [SentimentTask]


@hookimpl
def register_steps() -> list[type[Step]]:
    return [Sentiment]

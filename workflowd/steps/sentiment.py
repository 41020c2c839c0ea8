"""The ``sentiment`` step: a score in [-1, 1] and negative / neutral / positive with confidence.

The model is the promoted trained version (``workflowd train --task sentiment``) or the one
shipped with workflowd, trained on SST-2 and the Financial PhraseBank
(workflowd/artifacts/sentiment/MODEL_CARD.md): the shared encoder with a LoRA adapter, one
extra encoder pass over the document's sentences. A document's score is the length-weighted
mean of its sentences' probabilities (workflowd/sentiment/model.py); the most negative and
most positive sentences are kept beside it, with their offsets.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..hookspecs import hookimpl
from ..models.in_use import ModelInUse
from ..pipeline.step import Document, Step, StepContext, StepResult

TASK = "sentiment"
log = logging.getLogger("workflowd.steps")
SHIPPED = Path(__file__).resolve().parent.parent / "artifacts" / "sentiment"


class SentimentSettings(BaseModel):
    """Settings of the ``sentiment`` step (``[steps.sentiment]``).

    Attributes:
        max_sentences: sentences read per document (the first ones); bounds the cost of a
            huge file.
    """

    model_config = ConfigDict(extra="forbid")

    max_sentences: int = Field(400, ge=1)


def sentiment_model(models, logger: logging.Logger = log) -> ModelInUse:  # noqa: ANN001
    """The model of the task: the promoted version, else the shipped one."""
    from ..sentiment.model import load_sentiment

    return ModelInUse(
        TASK,
        load=lambda v: load_sentiment(Path(v.path), models.encoder, version=v.version),
        builtin=lambda: load_sentiment(SHIPPED, models.encoder, version="shipped"),
        name=lambda m: m.version,
        logger=logger,
    )


def sentiment_in_use(provider, version: str | None = None):  # noqa: ANN001, ANN201
    """The given trained model, else the promoted one, else the shipped one."""
    return sentiment_model(provider).resolve(provider, version)


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
        self._model = sentiment_model(context.models, context.logger)

    def run(self, doc: Document) -> StepResult:
        return self.run_batch([doc])[0]

    def run_batch(self, docs: list[Document]) -> list[StepResult]:
        model = self._model.get(self.context.models)
        results = model.documents([d.text for d in docs], max_sentences=self.settings.max_sentences)
        out = []
        for doc, r in zip(docs, results, strict=True):
            data = {
                "label": r.label,
                "score": round(r.score, 4),
                "confidence": round(r.confidence, 4),
                "probabilities": {
                    k: round(float(p), 4)
                    for k, p in zip(("negative", "neutral", "positive"), r.probs, strict=True)
                },
                "sentences": r.sentences,
                "most_negative": _sentence(doc.text, r.most_negative),
                "most_positive": _sentence(doc.text, r.most_positive),
            }
            out.append(StepResult(data, confidence=r.confidence, model_version=model.version))
        return out


@hookimpl
def register_steps() -> list[type[Step]]:
    return [Sentiment]

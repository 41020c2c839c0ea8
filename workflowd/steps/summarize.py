"""The ``summarize`` step: an extractive summary, sentences kept in document order.

Sentences come from workflowd.sentences; their embeddings are pooled from the token states of
the document's own encoder pass (no extra pass). A salience head scores them: the promoted
trained version (``workflowd train --task summarize``) or the one shipped with workflowd,
trained on BBC News (workflowd/artifacts/summarize/MODEL_CARD.md). ``method = "textrank"``
uses lexical TextRank instead, without the model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..hookspecs import hookimpl
from ..models.in_use import ModelInUse
from ..pipeline.step import TOKENS, Document, Step, StepContext, StepResult
from ..summary import (
    SalienceHead,
    candidate_sentences,
    lexical_centrality,
    pooled_sentence_embeddings,
    sentence_features,
    top_in_order,
)

TASK = "summarize"
log = logging.getLogger("workflowd.steps")
SHIPPED = Path(__file__).resolve().parent.parent / "artifacts" / "summarize"


class SummarizeSettings(BaseModel):
    """Settings of the ``summarize`` step (``[steps.summarize]``).

    Attributes:
        sentences: sentences in a summary (fewer when the document has fewer).
        ratio: instead, this share of the document's sentences (at least one, at most
            ``max_sentences``); 0 uses ``sentences``.
        max_sentences: the longest summary ``ratio`` may give.
        method: "head" (the learned salience head) or "textrank".
    """

    model_config = ConfigDict(extra="forbid")

    sentences: int = Field(3, ge=1)
    ratio: float = Field(0.0, ge=0.0, le=1.0)
    max_sentences: int = Field(10, ge=1)
    method: Literal["head", "textrank"] = "head"

    def count(self, n: int) -> int:
        if self.ratio > 0:
            return max(1, min(self.max_sentences, round(self.ratio * n)))
        return min(self.sentences, n)


def head_model(logger: logging.Logger = log) -> ModelInUse[SalienceHead]:
    """The salience head of the task: the promoted version, else the shipped one."""
    return ModelInUse(
        TASK,
        load=lambda v: SalienceHead.load(Path(v.path), version=v.version),
        builtin=lambda: SalienceHead.load(SHIPPED, version="shipped"),
        name=lambda head: head.version,
        logger=logger,
    )


def head_in_use(provider, version: str | None = None) -> SalienceHead:  # noqa: ANN001
    """The given trained head, else the promoted one, else the shipped one."""
    return head_model().resolve(provider, version)


class Summarize(Step):
    """Pick the sentences that say what the document is about."""

    name = "summarize"
    description = "an extractive summary: the most salient sentences, in document order"
    Settings = SummarizeSettings
    needs = frozenset({TOKENS})

    def __init__(self, settings: SummarizeSettings, context: StepContext):
        super().__init__(settings, context)
        self._model = head_model(context.logger)

    def head(self) -> SalienceHead:
        """The promoted salience head, else the shipped one; reloaded when that changes."""
        return self._model.get(self.context.models)

    def run(self, doc: Document) -> StepResult:
        sentences = candidate_sentences(doc.text)
        if not sentences:
            return StepResult({"summary": "", "sentences": []})
        k = self.settings.count(len(sentences))
        if self.settings.method == "textrank":
            scores, version = lexical_centrality([s.text for s in sentences]), "textrank"
        else:
            head = self.head()
            feats = sentence_features(
                pooled_sentence_embeddings(doc.encoded, sentences), doc.encoded.embedding, sentences
            )
            scores, version = head.score(feats), head.version
        chosen = top_in_order(scores, k)
        picked = [
            {
                "start": sentences[i].start,
                "end": sentences[i].end,
                "index": i,
                "score": round(float(scores[i]), 4),
            }
            for i in chosen
        ]
        summary = " ".join(sentences[i].text for i in chosen)
        return StepResult(
            {"summary": summary, "sentences": picked, "of": len(sentences)}, model_version=version
        )


@hookimpl
def register_steps() -> list[type[Step]]:
    return [Summarize]

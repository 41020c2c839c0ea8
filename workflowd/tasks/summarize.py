"""The ``summarize`` task: an extractive summary, sentences kept in document order.

Sentences come from workflowd.sentences; their embeddings are pooled from the token states of
the document's own encoder pass (no extra pass). A salience head scores them: the promoted
trained version or the one shipped with workflowd, trained on BBC News
(workflowd/artifacts/summarize/MODEL_CARD.md). ``method = "textrank"`` uses lexical TextRank
instead, without the model.

Retraining from corrections fits the head again (a logistic regression: it has no state to go
on from) on the corrected summaries, with a replay of summaries it was trained on
(``replay_data``) or, without them, of its own picks on uncorrected documents. Each document
is scored by the ROUGE-2 F1 of the sentences the model picks (as many as the corrected
summary has) against the corrected summary.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ..errors import DataError
from ..hookspecs import hookimpl
from ..models.in_use import ModelInUse
from ..pipeline.step import TOKENS, Document, Step, StepContext, StepResult
from ..readable import readable_sentences
from ..summary import (
    SalienceHead,
    candidate_sentences,
    lexical_centrality,
    pooled_sentence_embeddings,
    sentence_features,
    top_in_order,
)
from ..training.retrain import Candidate, Example, TaskRetrainer, repeats, sample
from ..training.summarize import (
    Prepared,
    SummaryExamples,
    fit_head,
    load_summaries_jsonl,
    pick,
    prepare,
    rouge,
    train_summarizer,
)
from .base import Task, Trained, TrainOptions
from .corrections import SentencesCorrection

if TYPE_CHECKING:
    from ..training.common import Progress

log = logging.getLogger("workflowd.tasks")
SHIPPED = Path(__file__).resolve().parent.parent / "artifacts" / "summarize"

PSEUDO_SENTENCES = 3
PSEUDO_DOCUMENTS_SHARE = 4  # pseudo-labelled documents: replay // this many


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


class Summarize(Step):
    """Pick the sentences that say what the document is about."""

    name = "summarize"
    description = "an extractive summary: the most salient sentences, in document order"
    Settings = SummarizeSettings
    needs = frozenset({TOKENS})

    def __init__(self, settings: SummarizeSettings, context: StepContext):
        super().__init__(settings, context)
        self.task = SummarizeTask(context.settings, context.models, settings)

    def warm_up(self) -> None:
        """Load the salience head (none for ``method = "textrank"``)."""
        if self.settings.method != "textrank":
            self.head()

    def head(self) -> SalienceHead:
        """The promoted salience head, else the shipped one; reloaded when that changes."""
        return self.task.model().get(self.context.models)

    def run(self, doc: Document) -> StepResult:
        # of a mail, the sentences its sender wrote: not the headers, quotes or list footers
        sentences = candidate_sentences(doc.text, readable_sentences(doc.text, doc.media_type, doc.meta))
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


class SummarizeTask(Task):
    name = "summarize"
    description = "an extractive summary: the sentences a salience head scores highest"
    step = Summarize
    correction = SentencesCorrection()
    data_help = 'JSONL, one {"text", "summary"} object per line, the summary made of the text\'s sentences'
    train_options = frozenset({"seed"})
    epoch_metric = None
    eval_options = frozenset({"sentences"})

    def make_model(self) -> ModelInUse:
        return self.saved_model(lambda folder, v: SalienceHead.load(folder, version=v), SHIPPED)

    def train(self, options: TrainOptions, progress: Progress | None = None) -> Trained:
        """The salience head on ``{"text", "summary"}`` JSONL."""
        if len(options.data) != 1:
            raise DataError("summarize trains on one data file")
        data = load_summaries_jsonl(options.data[0])
        encoder = self.models.encoder
        outcome = train_summarizer(encoder, data, seed=options.seed)
        version, state = self.register(
            outcome.head.save,
            metrics=outcome.metrics,
            meta={**outcome.meta, "data_file": str(options.data[0])},
            promote=options.promote,
        )
        lines = [f"summarize {version.version}: {state} ({outcome.meta['train_seconds']} s, "
                 f"{outcome.meta['data']['n']} documents)"]
        m = outcome.metrics
        if m.get("validation") == "held out":
            lines.append(f"validation (n={m['n']}): ROUGE-1 {m['rouge1']:.4f}, ROUGE-2 {m['rouge2']:.4f}, "
                         f"ROUGE-L {m['rougeL']:.4f} (TextRank: {m['textrank']['rouge2']:.4f} / "
                         f"{m['textrank']['rougeL']:.4f})")
        return Trained(version, lines)

    def evaluate(self, path: Path, *, version: str | None = None, sentences: int | None = None) -> dict[str, Any]:
        """ROUGE-1/2/L F1 of the summaries the step would write, with as many sentences as each
        reference has (or ``sentences``)."""
        data = load_summaries_jsonl(path)
        head = self.resolve(version)
        docs = prepare(self.models.encoder, data)
        picked = [" ".join(d.sentences[j].text for j in pick(d, head, sentences)) for d in docs]
        return {"task": self.name, "n": len(data), "model_version": head.version,
                "metrics": rouge(picked, data.summaries)}

    def describe(self, data: dict[str, Any], confidence: float | None = None) -> list[str]:
        summary = " ".join((data.get("summary") or "").split())
        if not summary:
            return ["(no sentences)"]
        of = f" ({len(data.get('sentences') or [])} of {data['of']} sentences)" if data.get("of") else ""
        return [summary + of]


class SummarizeRetrainer(TaskRetrainer):
    task = "summarize"
    score_name = "ROUGE-2"

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self._prepared: dict[str, Prepared] = {}  # per example key: both models score the same

    def usable(self, value: dict[str, Any]) -> bool:
        return bool((value.get("summary") or "").strip())

    def current(self) -> tuple[Any, str]:
        head = SummarizeTask(self.settings, self.provider).resolve()
        return head, head.version

    def _prepare(self, examples: list[Example]) -> list[Prepared]:
        """Sentences and features of the examples, computed once per example."""
        todo = [e for e in examples if e.key not in self._prepared]
        if todo:
            data = SummaryExamples([e.text for e in todo], [e.value["summary"] for e in todo], "")
            for e, doc in zip(todo, prepare(self.encoder, data), strict=True):
                self._prepared[e.key] = doc
        return [self._prepared[e.key] for e in examples]

    def _replay(self, current: Any) -> tuple[list[Prepared], dict[str, Any]]:
        conf = self.settings.training
        files = conf.replay_data.get(self.task, [])
        if files:
            docs: list[Prepared] = []
            for path in files:
                data = load_summaries_jsonl(Path(path).expanduser())
                rows = sample(
                    list(zip(data.texts, data.summaries, strict=True)), conf.replay // len(files), str(path)
                )
                docs += prepare(self.encoder, SummaryExamples([t for t, _ in rows], [s for _, s in rows], ""))
            return docs, {"data_files": [str(p) for p in files], "documents": len(docs)}
        if self.task not in conf.pseudo_rehearsal:
            return [], {"none": "no replay_data, and pseudo_rehearsal is off for this task"}
        texts = self.store.documents.texts_without_correction(self.task, conf.replay // PSEUDO_DOCUMENTS_SHARE)
        docs = []
        for doc in prepare(self.encoder, SummaryExamples(texts, [""] * len(texts), "")):
            if len(doc.sentences) <= PSEUDO_SENTENCES:
                continue  # nothing to choose
            labels = np.zeros(len(doc.sentences), dtype=np.float32)
            labels[pick(doc, current, PSEUDO_SENTENCES)] = 1.0
            docs.append(replace(doc, labels=labels, k=PSEUDO_SENTENCES))
        return docs, {"pseudo_labels": len(docs)}

    def train(self, train: list[Example], current: Any, progress: Progress | None = None) -> Candidate:
        t0 = time.perf_counter()
        examples = [d for d in self._prepare(train) if len(d.sentences)]
        replay, replay_meta = self._replay(current)
        repeat = repeats(len(examples), len(replay), 1)  # a convex fit: only the weight matters
        head = fit_head(examples * repeat + replay)
        meta = {
            "task": self.task,
            "method": "salience head (logistic regression)",
            "replay": replay_meta,
            "corrections_repeated": repeat,
            "data": {"n": len(examples) + len(replay)},
            "train_seconds": round(time.perf_counter() - t0, 1),
        }

        def save(folder: Path, full_meta: dict[str, Any]) -> None:
            head.meta = dict(full_meta)
            head.save(folder)

        return Candidate(head, save, {}, meta)

    def scores(self, model: Any, examples: list[Example]) -> list[float]:
        from rouge_score import rouge_scorer

        if not examples:
            return []
        scorer = rouge_scorer.RougeScorer(["rouge2"], use_stemmer=True)
        out = []
        for doc, e in zip(self._prepare(examples), examples, strict=True):
            picked = " ".join(doc.sentences[i].text for i in pick(doc, model))
            out.append(float(scorer.score(e.value["summary"], picked)["rouge2"].fmeasure))
        return out

    def validation_data(self, paths: list[Path]) -> list[Example]:
        out = []
        for path in paths:
            data = load_summaries_jsonl(path)
            out += [
                Example(f"{path}:{i}", t, {"summary": s})
                for i, (t, s) in enumerate(zip(data.texts, data.summaries, strict=True))
            ]
        return out


SummarizeTask.retrainer = SummarizeRetrainer


@hookimpl
def register_tasks() -> list[type[Task]]:
    return [SummarizeTask]


@hookimpl
def register_steps() -> list[type[Step]]:
    return [Summarize]

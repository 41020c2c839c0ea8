"""Retraining ``summarize``: the salience head is fitted again (it is a logistic regression:
it has no state to go on from) on the corrected summaries, and on a replay of summaries it
was trained on (``replay_data``) or, without them, of its own picks on uncorrected
documents. Each document is scored by the ROUGE-2 F1 of the sentences the model picks (as
many as the corrected summary has) against the corrected summary."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ..summarize import Prepared, SummaryExamples, fit_head, load_summaries_jsonl, pick, prepare
from . import Candidate, Example, TaskRetrainer, repeats, sample, unreviewed_texts

PSEUDO_SENTENCES = 3
PSEUDO_DOCUMENTS_SHARE = 4  # pseudo-labelled documents: replay // this many


class SummarizeRetrainer(TaskRetrainer):
    task = "summarize"
    score_name = "ROUGE-2"

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self._prepared: dict[tuple[str, ...], list[Prepared]] = {}  # both models score the same

    def usable(self, value: dict[str, Any]) -> bool:
        return bool((value.get("summary") or "").strip())

    def current(self) -> tuple[Any, str]:
        from ...steps.summarize import head_in_use

        head = head_in_use(self.provider)
        return head, head.version

    def _prepare(self, examples: list[Example]) -> list[Prepared]:
        """Sentences and features of the examples, computed once for both models."""
        key = tuple(e.key for e in examples)
        if key not in self._prepared:
            data = SummaryExamples([e.text for e in examples], [e.value["summary"] for e in examples], "")
            self._prepared[key] = prepare(self.encoder, data)
        return self._prepared[key]

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
        texts = unreviewed_texts(
            self.provider.registry().store, self.task, conf.replay // PSEUDO_DOCUMENTS_SHARE
        )
        docs = []
        for doc in prepare(self.encoder, SummaryExamples(texts, [""] * len(texts), "")):
            if len(doc.sentences) <= PSEUDO_SENTENCES:
                continue  # nothing to choose
            labels = np.zeros(len(doc.sentences), dtype=np.float32)
            labels[pick(doc, current, PSEUDO_SENTENCES)] = 1.0
            docs.append(replace(doc, labels=labels, k=PSEUDO_SENTENCES))
        return docs, {"pseudo_labels": len(docs)}

    def train(self, train: list[Example], current: Any) -> Candidate:
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

"""Retraining ``entities``: the tagger in use goes on learning (its LoRA adapter and head) from
the corrected names of documents, with a replay of CoNLL documents it was trained on
(``replay_data``) or, without them, of uncorrected documents tagged by itself.

A correction's list is taken as complete for the learned types (PER, ORG, LOC, MISC): a name
it leaves out is not one. The pattern types (DATE, MONEY, ...) come from rules, not from
this model, and are ignored here. Each document is scored by the F1 of its exact spans
(1 when neither the correction nor the model finds a name).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...ner.bio import Span, tag_names
from ...ner.conll import TYPES, read_conll
from ..entities import EntityParams, prepare, prepare_spans, train_prepared
from . import Candidate, Example, TaskRetrainer, repeats, sample, unreviewed_texts

PSEUDO_DOCUMENTS_SHARE = 8  # pseudo-labelled documents: replay // this many (they are long)
PSEUDO_MAX_CHARS = 2000
MIN_PER_EPOCH = 64  # corrected documents shown per epoch, repeated when fewer


ANCHOR = 0.3  # L2-SP strength; benchmarks/forgetting_tasks.py measured 0, 0.1, 0.3, 1 and 10


def retrain_params(params: Any = None) -> EntityParams:
    """Going on from a trained tagger: a lower learning rate, two epochs, no validation split,
    and the weights held close to where they start (L2-SP)."""
    return params or EntityParams(epochs=2, lr=3e-4, head_lr=3e-4, warmup_share=0.1, anchor=ANCHOR)


def learned_spans(value: dict[str, Any]) -> list[Span]:
    return [
        Span(int(e["start"]), int(e["end"]), e["type"], 1.0)
        for e in value.get("entities") or []
        if e.get("type") in TYPES
    ]


class EntitiesRetrainer(TaskRetrainer):
    task = "entities"
    score_name = "document F1"

    def usable(self, value: dict[str, Any]) -> bool:
        return isinstance(value.get("entities"), list)

    def current(self) -> tuple[Any, str]:
        from ...steps.entities import tagger_in_use

        tagger = tagger_in_use(self.provider)
        return tagger, tagger.version or "shipped"

    def _replay(self, current: Any, tags: list[str]) -> tuple[list[Any], dict[str, Any]]:
        conf = self.settings.training
        files = conf.replay_data.get(self.task, [])
        if files:
            docs = []
            for path in files:
                found = read_conll(Path(path).expanduser())
                # a CoNLL "document" is an article; a sentence of 14 words on average
                docs += sample(found, max(1, conf.replay // 14 // len(files)), str(path))
            prepared = prepare(self.encoder, docs, tags)
            return prepared, {"data_files": [str(p) for p in files], "documents": len(docs)}
        if self.task not in conf.pseudo_rehearsal:
            return [], {"none": "no replay_data, and pseudo_rehearsal is off for this task"}
        texts = unreviewed_texts(
            self.provider.registry().store, self.task, conf.replay // PSEUDO_DOCUMENTS_SHARE, PSEUDO_MAX_CHARS
        )
        spans = current.predict(texts) if texts else []
        prepared = prepare_spans(self.encoder, list(zip(texts, spans, strict=True)), tags)
        return prepared, {"pseudo_labels": len(texts)}

    def train(self, train: list[Example], current: Any) -> Candidate:
        from ...steps.entities import SHIPPED

        tags = tag_names(TYPES)
        examples = prepare_spans(self.encoder, [(e.text, learned_spans(e.value)) for e in train], tags)
        replay, replay_meta = self._replay(current, tags)
        repeat = repeats(len(examples), len(replay), MIN_PER_EPOCH)
        outcome = train_prepared(
            self.encoder,
            examples * repeat + replay,
            [],
            retrain_params(self.params),
            self.progress,
            init=self.current_folder(SHIPPED),
        )

        def save(folder: Path, meta: dict[str, Any]) -> None:
            outcome.tagger.save(folder, outcome.adapter_model, {**meta, "metrics": outcome.metrics})

        meta = {
            **outcome.meta,
            "replay": replay_meta,
            "corrections_repeated": repeat,
            "data": {"n": len(examples) + len(replay)},
        }
        return Candidate(outcome.tagger, save, outcome.metrics, meta)

    def scores(self, model: Any, examples: list[Example]) -> list[float]:
        if not examples:
            return []
        found = model.predict([e.text for e in examples])
        out = []
        for spans, e in zip(found, examples, strict=True):
            truth = {(s.start, s.end, s.type) for s in learned_spans(e.value)}
            pred = {(s.start, s.end, s.type) for s in spans}
            if not truth and not pred:
                out.append(1.0)
            else:
                out.append(2 * len(truth & pred) / (len(truth) + len(pred)))
        return out

    def validation_data(self, paths: list[Path]) -> list[Example]:
        """CoNLL documents, their tags turned into character spans of the joined text."""
        out = []
        for path in paths:
            for i, doc in enumerate(read_conll(path)):
                text, word_spans = doc.text_and_spans()
                out.append(Example(f"{path}:{i}", text, {"entities": conll_entities(word_spans, doc.tags)}))
        return out


def conll_entities(word_spans: list[list[tuple[int, int]]], tags: list[list[str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for row, row_tags in zip(word_spans, tags, strict=True):
        open_: dict[str, Any] | None = None
        for (a, b), tag in zip(row, row_tags, strict=True):
            if tag.startswith("I-") and open_ is not None and open_["type"] == tag[2:]:
                open_["end"] = b
                continue
            if open_ is not None:
                out.append(open_)
                open_ = None
            if tag != "O":
                open_ = {"type": tag[2:], "start": a, "end": b}
        if open_ is not None:
            out.append(open_)
    return out

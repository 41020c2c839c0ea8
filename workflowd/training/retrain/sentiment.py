"""Retraining ``sentiment``: the model in use goes on learning (its LoRA adapter and head) from
the documents' corrected labels, with a replay of sentences it was trained on (``replay_data``)
or, without them, of sentences from uncorrected documents labelled by itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...sentences import split_sentences
from ...sentiment.data import SentimentData, load_sentiment_file
from ..sentiment import SentimentParams, train_sentiment
from . import Candidate, Example, TaskRetrainer, repeats, sample, unreviewed_texts

PSEUDO_MIN_CONFIDENCE = 0.7  # a sentence the model in use is less sure of is not replayed
MIN_PER_EPOCH = 256  # corrections shown per epoch, repeated when fewer
ANCHOR = 0.3  # L2-SP strength, as for entities (benchmarks/forgetting_tasks.py)


def retrain_params(params: Any = None) -> SentimentParams:
    """Going on from a trained model: a lower learning rate, two epochs, no validation split
    (the held-out corrections judge the result), the weights held close to where they start."""
    return params or SentimentParams(
        epochs=2, lr=3e-4, head_lr=1e-3, val_share=0.0, warmup_share=0.1, anchor=ANCHOR
    )


class SentimentRetrainer(TaskRetrainer):
    task = "sentiment"
    score_name = "accuracy"

    def usable(self, value: dict[str, Any]) -> bool:
        return value.get("label") in ("negative", "neutral", "positive")

    def current(self) -> tuple[Any, str]:
        from ...steps.sentiment import sentiment_in_use

        model = sentiment_in_use(self.provider)
        return model, model.version or "shipped"

    def _replay(self, current: Any) -> tuple[list[SentimentData], dict[str, Any]]:
        conf = self.settings.training
        files = conf.replay_data.get(self.task, [])
        if files:
            out = []
            for path in files:
                data = load_sentiment_file(Path(path).expanduser())
                rows = sample(
                    list(zip(data.texts, data.labels, strict=True)), conf.replay // len(files), str(path)
                )
                out.append(
                    SentimentData([t for t, _ in rows], [lb for _, lb in rows], data.sha256, str(path))
                )
            return out, {"data_files": [str(p) for p in files], "examples": sum(len(d) for d in out)}
        if self.task not in conf.pseudo_rehearsal:
            return [], {"none": "no replay_data, and pseudo_rehearsal is off for this task"}
        texts = unreviewed_texts(self.provider.registry().store, self.task, conf.replay)
        sentences = sample(
            [s.text for t in texts for s in split_sentences(t) if len(s.text) > 15], conf.replay, "sentiment"
        )
        probs = current.sentence_probs(sentences)
        keep = [i for i in range(len(sentences)) if probs[i].max() >= PSEUDO_MIN_CONFIDENCE]
        labels = [("negative", "neutral", "positive")[int(probs[i].argmax())] for i in keep]
        data = SentimentData(
            [sentences[i] for i in keep], labels, "", "replay: the model in use's answers", three_way=True
        )
        return ([data] if len(data) else []), {"pseudo_labels": len(data), "documents": len(texts)}

    def train(self, train: list[Example], current: Any) -> Candidate:
        from ...steps.sentiment import SHIPPED

        replay, replay_meta = self._replay(current)
        repeat = repeats(len(train), sum(len(d) for d in replay), MIN_PER_EPOCH)
        corrections = SentimentData(
            [e.text for e in train] * repeat,
            [e.value["label"] for e in train] * repeat,
            "",
            "corrections",
            three_way=True,
        )
        params = retrain_params(self.params)
        init = self.current_folder(SHIPPED)
        outcome = train_sentiment(self.encoder, [corrections, *replay], params, self.progress, init=init)

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

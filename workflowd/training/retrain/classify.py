"""Retraining ``classify``: the labels of the corrections, the label descriptions as the prior,
the stored documents' embeddings as unlabelled data (self-training, method head)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ModelError
from ..classify import ClassifyParams, train_classifier
from ..data import LabelledTexts, load_labelled_jsonl
from . import Candidate, Example, TaskRetrainer, sample

MAX_UNLABELED = 20_000


class ClassifyRetrainer(TaskRetrainer):
    task = "classify"
    score_name = "accuracy"

    def usable(self, value: dict[str, Any]) -> bool:
        return bool(value.get("label"))

    def check(self, train: list[Example]) -> None:
        if len({e.value["label"] for e in train}) < 2:
            raise ModelError("retraining classify needs corrections with at least two labels")

    def current(self) -> tuple[Any, str]:
        from ...evaluation import classifier_in_use

        clf = classifier_in_use(self.settings, self.provider)
        return clf, clf.model_version

    def train(self, train: list[Example], current: Any) -> Candidate:
        from ...models import classifier as clf_mod
        from ...steps.classify import ClassifySettings
        from ..run import save_outcome

        texts = [e.text for e in train]
        labels = [e.value["label"] for e in train]
        files = self.settings.training.replay_data.get(self.task, [])
        replayed = 0
        for path in files:  # labelled examples of the original data, e.g. what v1 was trained on
            data = load_labelled_jsonl(Path(path).expanduser())
            rows = sample(
                list(zip(data.texts, data.labels, strict=True)), self.settings.training.replay, str(path)
            )
            texts += [t for t, _ in rows]
            labels += [label for _, label in rows]
            replayed += len(rows)
        descriptions = ClassifySettings.model_validate(self.settings.steps.get(self.task, {})).labels
        p = self.params or ClassifyParams()
        unlabeled = None
        if p.method == "head":
            _ids, unlabeled = self.provider.registry().store.embeddings.matrix(
                self.settings.model.base, limit=MAX_UNLABELED
            )
        outcome = train_classifier(
            self.encoder,
            LabelledTexts(texts, labels, "corrections"),
            p,
            descriptions,
            self.progress,
            unlabeled,
        )
        encoder = self.encoder

        def save(folder: Path, meta: dict[str, Any]) -> None:
            save_outcome(outcome, folder, encoder)
            clf_mod.save(outcome.classifier, folder, meta)

        meta = {**outcome.meta, "replay": {"data_files": [str(p) for p in files], "examples": replayed}}
        return Candidate(outcome.classifier, save, outcome.metrics, meta)

    def scores(self, model: Any, examples: list[Example]) -> list[float]:
        if not examples:
            return []
        enc = (model.encoder or self.encoder).encode_documents([x.text for x in examples])
        X = np.stack([e.embedding for e in enc])
        pred = [model.labels[i] for i in model.proba(X).argmax(1)]
        return [float(p == x.value["label"]) for p, x in zip(pred, examples, strict=True)]

    def validation_data(self, paths: list[Path]) -> list[Example]:
        out = []
        for path in paths:
            data = load_labelled_jsonl(path)
            out += [
                Example(f"{path}:{i}", t, {"label": label})
                for i, (t, label) in enumerate(zip(data.texts, data.labels, strict=True))
            ]
        return out

"""The ``classify`` step: a label with a calibrated confidence, or none and a review flag.

Before any training it classifies zero-shot from the label descriptions in the config; once
a trained version is promoted (``workflowd train --task classify``), it uses that, and picks
up later promotions and rollbacks at its next batch, without a restart.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..hookspecs import hookimpl
from ..models.in_use import ModelInUse
from ..pipeline.step import EMBEDDING, Document, Step, StepContext, StepResult

TASK = "classify"
log = logging.getLogger("workflowd.steps")

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


def classifier_model(settings, step: ClassifySettings, models, logger: logging.Logger = log) -> ModelInUse:  # noqa: ANN001
    """The classifier of the task: the promoted version, else zero-shot from the label descriptions."""
    from ..models import classifier as clf_mod

    return ModelInUse(
        TASK,
        load=lambda v: clf_mod.load(v.path, settings.model, version=v.version),
        builtin=lambda: clf_mod.zero_shot(models.encoder, step.labels, step.template),
        name=lambda clf: clf.model_version,
        logger=logger,
    )


class Classify(Step):
    """Label each document, zero-shot or with the promoted trained model."""

    name = "classify"
    description = "a label with a calibrated confidence; abstains and asks for review below the threshold"
    Settings = ClassifySettings
    needs = frozenset({EMBEDDING})

    def __init__(self, settings: ClassifySettings, context: StepContext):
        super().__init__(settings, context)
        self._model = classifier_model(context.settings, settings, context.models, context.logger)

    def classifier(self) -> Any:
        """The classifier in use: the promoted version, else zero-shot; reloaded when that changes."""
        return self._model.get(self.context.models)

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


@hookimpl
def register_steps() -> list[type[Step]]:
    return [Classify]

"""Tasks: each a unit of what workflowd learns and is corrected on (classify, entities,
summarize, sentiment, and those plugins add), with its step, model, training, retraining,
evaluation and correction schema. See workflowd/tasks/base.py."""

from .base import Task, Trained, TrainOptions
from .corrections import (
    CorrectionInput,
    CorrectionSchema,
    JsonCorrection,
    LabelCorrection,
    SentencesCorrection,
    SpansCorrection,
)
from .registry import TaskRegistry, UnknownTaskError

__all__ = [
    "CorrectionInput",
    "CorrectionSchema",
    "JsonCorrection",
    "LabelCorrection",
    "SentencesCorrection",
    "SpansCorrection",
    "Task",
    "TaskRegistry",
    "TrainOptions",
    "Trained",
    "UnknownTaskError",
]

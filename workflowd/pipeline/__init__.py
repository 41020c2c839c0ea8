"""Steps, their registry and the pipelines built from them."""

from .pipeline import Pipeline, Pipelines, StepOutcome
from .registry import StepRegistry
from .step import Document, NoSettings, Step, StepContext, StepResult

__all__ = [
    "Document",
    "NoSettings",
    "Pipeline",
    "Pipelines",
    "Step",
    "StepContext",
    "StepOutcome",
    "StepRegistry",
    "StepResult",
]

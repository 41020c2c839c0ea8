"""What a pipeline step is: a class with a name, optional settings, and one ``run`` method."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from ..config import Settings
    from ..models.encoder import Encoded
    from ..models.provider import ModelProvider

# What a step can ask the pipeline to compute once per document, in one encoder pass:
EMBEDDING = "embedding"  # the document's embedding (doc.encoded.embedding, chunk embeddings)
TOKENS = "tokens"  # token states of every window, with character offsets (doc.encoded.token_states)


class NoSettings(BaseModel):
    """A step that takes no settings: any key under its ``[steps.<name>]`` table is an error."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class Document:
    """What a step sees of a document: its extracted text and what earlier steps found."""

    id: int | None
    text: str
    title: str | None = None
    media_type: str | None = None
    source: str | None = None
    path: str | None = None
    name: str | None = None
    parent_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    encoded: Encoded | None = None  # set by the pipeline when a step needs it


@dataclass
class StepResult:
    """A step's answer for one document. ``data`` must be JSON-serialisable."""

    data: dict[str, Any]
    confidence: float | None = None
    model_version: str | None = None
    needs_review: bool = False


@dataclass
class StepContext:
    """What a step may use besides its own settings."""

    settings: Settings
    logger: logging.Logger
    models: ModelProvider

    @property
    def data_dir(self) -> Path:
        return self.settings.data_dir


class Step:
    """Base class of pipeline steps.

    Subclasses set ``name`` (the key used in ``pipelines.*.steps`` and ``[steps.<name>]``),
    optionally a pydantic ``Settings`` model for their config table, and implement ``run``.
    A step that raises fails that step of that document only; the error is stored.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    Settings: ClassVar[type[BaseModel]] = NoSettings
    needs: ClassVar[frozenset[str]] = frozenset()  # EMBEDDING, TOKENS

    def __init__(self, settings: BaseModel, context: StepContext):
        self.settings = settings
        self.context = context

    def forks(self) -> frozenset[int]:
        """Layers of the shared encoder whose hidden states the step reads from the document's
        shared pass (``doc.encoded.fork_states``): a task branch (workflowd/models/branch.py)."""
        return frozenset()

    def run(self, doc: Document) -> StepResult:
        raise NotImplementedError

    def run_batch(self, docs: list[Document]) -> list[StepResult]:
        """Several documents at once (override to batch model calls). If it raises, the
        pipeline runs the documents one by one, so that one bad document fails alone."""
        return [self.run(doc) for doc in docs]

    def warm_up(self) -> None:
        """Load what the step needs (models) so the first document does not wait; no other side
        effects. Called once in the background when the daemon starts."""

    def close(self) -> None:
        """Release what the step holds (models, files); called when the pipeline is rebuilt."""

"""The hooks a workflowd plugin can implement. Built-in steps and tasks use the same hooks."""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("workflowd")
hookimpl = pluggy.HookimplMarker("workflowd")


@hookspec
def register_steps() -> list[Any]:  # type: ignore[empty-body]
    """Return the pipeline Step classes this plugin provides."""


@hookspec
def register_tasks() -> list[Any]:  # type: ignore[empty-body]
    """Return the Task classes (workflowd.tasks.Task) this plugin provides: tasks can be corrected, trained and evaluated."""


@hookspec
def register_extractors() -> list[Any]:  # type: ignore[empty-body]
    """Return the text extractors (workflowd.extract.Extractor) this plugin provides, for media types workflowd does not read."""


@hookspec
def document_processed(document: Any, results: dict[str, Any], store: Any, settings: Any) -> None:
    """Called in the processing process after a document and its step results are stored (committed);
    an implementation may take any subset of the arguments. Built-ins: rules, then surges."""

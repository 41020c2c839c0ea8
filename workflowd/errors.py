"""Exceptions raised by workflowd.

The library raises; only the CLI prints. Each error carries a message written
for the person running workflowd::

    WorkflowdError
    ├── ConfigError            bad config file, key or value  (CLI exit code 2)
    ├── PluginError            a plugin failed to load or a step name is unknown (exit 2)
    │   └── UnknownStepError
    ├── ModelError             a model cannot be loaded, trained or found
    ├── DataError              a training or evaluation file cannot be used
    ├── CorrectionError        a correction does not fit its document or task
    ├── RuleError              a rule's action cannot be done (fails that rule for that document)
    ├── StoreError             the SQLite store cannot be used
    │   └── SchemaTooNewError  the database was written by a newer workflowd
    ├── ExtractionError        a file's text cannot be extracted (bad input; final)
    │   ├── ExtractionCrashed  the extractor timed out, ran out of memory or died (retried)
    │   └── ContentChanged     the file no longer has the content that was queued
    └── DaemonError
        ├── AlreadyRunningError
        └── NotRunningError
"""

from __future__ import annotations


class WorkflowdError(Exception):
    """Base class of every error workflowd raises on purpose."""


class ConfigError(WorkflowdError):
    """A configuration file or variable is invalid."""

    def __init__(self, message: str, *, path: str | None = None, problems: list[str] | None = None):
        self.path = path
        self.problems = problems or []
        super().__init__(message)

    def __str__(self) -> str:
        text = super().__str__()
        if self.problems:
            text += "\n" + "\n".join(f"  - {p}" for p in self.problems)
        return text


class PluginError(WorkflowdError):
    """A plugin could not be loaded or registered."""


class UnknownStepError(PluginError):
    """A pipeline names a step that no plugin provides."""

    def __init__(self, name: str, available: list[str], where: str = ""):
        self.name = name
        self.available = sorted(available)
        place = f" (in {where})" if where else ""
        names = ", ".join(self.available) or "none"
        super().__init__(f"unknown step {name!r}{place}. Available steps: {names}")


class ModelError(WorkflowdError):
    """A model cannot be loaded, trained, found or promoted."""


class DataError(WorkflowdError):
    """A training or evaluation file cannot be used."""


class CorrectionError(WorkflowdError):
    """A correction that does not fit its document or task."""


class RuleError(WorkflowdError):
    """A rule's action cannot be done: that rule fails for that document, nothing else."""


class StoreError(WorkflowdError):
    """The SQLite store cannot be opened or used."""


class SchemaTooNewError(StoreError):
    """The database schema is newer than this version of workflowd understands."""


class ExtractionError(WorkflowdError):
    """The text of a file cannot be extracted; retrying will not help."""


class ExtractionCrashed(ExtractionError):
    """The extractor process timed out, exceeded its memory limit or died; may be retried."""


class ContentChanged(ExtractionError):
    """The file's bytes no longer match the sha256 it was queued with."""


class DaemonError(WorkflowdError):
    """Starting, stopping or talking to the daemon failed."""


class AlreadyRunningError(DaemonError):
    """Another daemon holds the pidfile lock."""


class NotRunningError(DaemonError):
    """No daemon is running."""

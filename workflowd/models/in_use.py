"""The model a step uses: its task's promoted version, else a built-in one.

Loaded once, and again only when a promotion or a rollback changes the version: a running
daemon follows the registry without a restart. Safe to share between threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from .provider import ModelProvider
from .registry import ModelVersion

T = TypeVar("T")

# Names that ask for a task's built-in model (`workflowd eval --version zero-shot`).
BUILTIN_NAMES = ("builtin", "built-in", "zero-shot", "shipped")


class ModelInUse(Generic[T]):
    def __init__(
        self,
        task: str,
        *,
        load: Callable[[ModelVersion], T],
        builtin: Callable[[], T],
        name: Callable[[T], str],
        logger: logging.Logger,
    ):
        self.task = task
        self._load, self._builtin, self._name, self._logger = load, builtin, name, logger
        self._lock = threading.Lock()
        self._loaded: tuple[str | None, T] | None = None

    def get(self, models: ModelProvider) -> T:
        current = models.current(self.task)
        version = current.version if current else None
        with self._lock:
            if self._loaded is None or self._loaded[0] != version:
                model = self._load(current) if current is not None else self._builtin()
                self._logger.info("%s: using %s", self.task, self._name(model))
                self._loaded = (version, model)
            return self._loaded[1]

    def resolve(self, models: ModelProvider, version: str | None = None) -> T:
        """A registered version (``zero-shot``, ``shipped`` or ``builtin``: the built-in model),
        else the promoted one, else the built-in model; loaded for the caller (``eval``,
        retraining) and not kept."""
        if version in BUILTIN_NAMES:
            return self._builtin()
        registry = models.registry()
        chosen = registry.get(self.task, version) if version else registry.current(self.task)
        return self._load(chosen) if chosen is not None else self._builtin()

"""What steps share: one encoder, loaded on first use, and the registry of trained versions."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ..config import Settings
from ..store import Store
from .registry import ModelRegistry, ModelVersion

if TYPE_CHECKING:  # torch is imported only when a step needs the encoder
    from .encoder import Encoder


class ModelProvider:
    def __init__(self, settings: Settings):
        self.settings = settings
        self._encoder: Encoder | None = None
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    @property
    def encoder(self) -> Encoder:
        """The shared encoder (loaded once, on first use; a few seconds)."""
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    from .encoder import Encoder

                    self._encoder = Encoder(self.settings.model, cache_dir=self.settings.onnx_cache_dir)
        return self._encoder

    def adopt(self, other: ModelProvider) -> None:
        """Reuse another provider's encoder when the model settings are the same (config reload)."""
        if other._encoder is not None and other.settings.model == self.settings.model:
            self._encoder = other._encoder

    def registry(self) -> ModelRegistry:
        """The model registry, on a store connection of the calling thread."""
        registry = getattr(self._local, "registry", None)
        if registry is None:
            registry = ModelRegistry(
                Store(self.settings.db_path), self.settings.models_dir, repredict=self.settings.training.repredict
            )
            self._local.registry = registry
        return registry

    def current(self, task: str) -> ModelVersion | None:
        return self.registry().current(task)

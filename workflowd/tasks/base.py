"""A task: one unit of what workflowd learns and can be corrected on.

A task (classify, entities, summarize, sentiment, or one a plugin adds) gathers what the rest
of workflowd needs to know about it:

- ``step``: the pipeline step that runs its model on documents (configured by ``[steps.<name>]``);
- ``model()``: the model in use, the promoted trained version or the built-in one;
- ``train()``: a new version from labelled files (``workflowd train --data``);
- ``retrainer``: how it learns from corrections (``workflowd train`` without --data, the daemon);
- ``evaluate()``: its metrics on a labelled file (``workflowd eval``);
- ``correction``: what a correction of it looks like (``workflowd correct``, ``workflowd review``);
- ``describe()``: a stored result as a person reads it (``workflowd show``).

Tasks register through the ``register_tasks`` hook, the built-in ones like any plugin's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from ..config import Settings
from ..errors import ModelError
from ..models.in_use import ModelInUse
from ..models.provider import ModelProvider
from ..models.registry import ModelVersion
from ..pipeline.pipeline import step_settings as validated_step_settings
from ..pipeline.step import Step
from .corrections import CorrectionSchema, JsonCorrection

if TYPE_CHECKING:
    from ..store import Store
    from ..training.common import Progress
    from ..training.retrain import TaskRetrainer

log = logging.getLogger("workflowd.tasks")

_MAKE_MODEL = threading.Lock()  # a task makes its ModelInUse once, whichever thread asks first


@dataclass
class TrainOptions:
    """What ``workflowd train`` was given (None: not given); each task takes what applies to it."""

    data: list[Path]
    valid: Path | None = None
    method: str | None = None
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    weight_decay: float | None = None
    dropout: float | None = None
    val_share: float | None = None
    seed: int = 13  # every task takes one; the shipped artifacts' model cards count on this default
    unlabeled: bool = True
    promote: bool = True

    def given(self) -> set[str]:
        """The training options set on the command line (besides the data, seed and promotion)."""
        defaults = {"unlabeled": True}
        return {
            f.name
            for f in fields(self)
            if f.name not in ("data", "promote", "seed") and getattr(self, f.name) != defaults.get(f.name)
        }

    def apply(self, params: Any) -> Any:
        """``params`` with the epochs, learning rate, batch size and seed that were given."""
        for name in ("epochs", "lr", "batch_size", "seed"):
            value = getattr(self, name)
            if value is not None:
                setattr(params, name, value)
        return params


@dataclass
class Trained:
    """A version trained from files, and what a person reads about it."""

    version: ModelVersion
    lines: list[str]


class Task:
    """Base class of tasks. Subclasses set the class attributes and implement what they offer."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    step: ClassVar[type[Step]]
    correction: ClassVar[CorrectionSchema] = JsonCorrection()
    builtin_name: ClassVar[str] = "shipped"  # what the built-in model is called ("zero-shot" for classify)
    data_help: ClassVar[str] = ""  # the format of --data files, for messages
    train_options: ClassVar[frozenset[str]] = frozenset()  # TrainOptions fields it uses
    epoch_metric: ClassVar[str | None] = "val score"  # per-epoch validation metric; None: no epochs
    eval_options: ClassVar[frozenset[str]] = frozenset()  # evaluate() keywords it uses ("sentences")

    def __init__(self, settings: Settings, models: ModelProvider, step_settings: BaseModel | None = None):
        self.settings = settings
        self.models = models
        self._step_settings = step_settings
        self._model: ModelInUse | None = None

    # -- the step's settings and the model in use ------------------------------------------

    @property
    def step_settings(self) -> Any:
        """The ``[steps.<name>]`` table, validated by the step's Settings model."""
        if self._step_settings is None:
            self._step_settings = validated_step_settings(self.settings, self.name, self.step)
        return self._step_settings

    def model(self) -> ModelInUse:
        """The model in use, kept and reloaded when a promotion or rollback changes it."""
        if self._model is None:
            with _MAKE_MODEL:  # the daemon's warm-up and its worker may ask at the same time
                if self._model is None:
                    self._model = self.make_model()
        return self._model

    def make_model(self) -> ModelInUse:
        raise ModelError(f"the {self.name} task has no model")

    def saved_model(self, load: Callable[[Path, str | None], Any], shipped: Path) -> ModelInUse:
        """The model in use of a task whose models are folders: ``load(folder, version)`` of the
        promoted version, else of the ``shipped`` artifact (version "shipped")."""
        return ModelInUse(
            self.name,
            load=lambda v: load(Path(v.path), v.version),
            builtin=lambda: load(shipped, "shipped"),
            name=lambda model: model.version,
            logger=log,
        )

    def register(
        self, save: Callable[[Path], None], *, metrics: dict[str, Any], meta: dict[str, Any], promote: bool
    ) -> tuple[ModelVersion, str]:
        """Record a version built by ``save(folder)``, promoted if asked; with what to say of it."""
        version = self.models.registry().register(
            self.name, save, base_model=self.settings.model.base, metrics=metrics, meta=meta, promote=promote
        )
        return version, "promoted" if version.status == "promoted" else "registered, not promoted"

    def resolve(self, version: str | None = None) -> Any:
        """A registered version, the built-in model (``--version builtin``, or its own name:
        zero-shot, shipped...), else the one in use; loaded for the caller and not kept."""
        return self.model().resolve(self.models, "builtin" if version == self.builtin_name else version)

    # -- learning -------------------------------------------------------------------------

    def train(self, options: TrainOptions, progress: Progress | None = None) -> Trained:
        """Train a new version from labelled files, register it and (unless told not to) promote it."""
        raise ModelError(f"the {self.name} task cannot be trained from files")

    def check_options(self, options: TrainOptions) -> None:
        """Refuse options the task would silently ignore."""
        ignored = sorted(options.given() - set(self.train_options))
        if ignored:
            names = ", ".join("--" + n.replace("_", "-") for n in ignored)
            raise ModelError(f"{names} {'does' if len(ignored) == 1 else 'do'} not apply to {self.name}")

    retrainer: ClassVar[type[TaskRetrainer] | None] = None

    def make_retrainer(self, options: TrainOptions | None = None, progress: Progress | None = None) -> TaskRetrainer:
        """The task's retraining from corrections, with what the command line overrides."""
        if self.retrainer is None:
            raise ModelError(f"the {self.name} task cannot be retrained from corrections")
        return self.retrainer(self.settings, self.models, self.retrain_params(options), progress)

    def retrain_params(self, options: TrainOptions | None) -> Any:
        return None

    def evaluate(self, path: Path, *, version: str | None = None, sentences: int | None = None) -> dict[str, Any]:
        """``{"task", "n", "model_version", "metrics"}`` of the model on a labelled file."""
        raise ModelError(f"the {self.name} task cannot be evaluated")

    # -- corrections and what a person reads ------------------------------------------------

    def known_labels(self, store: Store) -> list[str]:
        """The labels a correction may give (label tasks): fixed, or those known so far."""
        return list(getattr(self.correction, "labels", None) or store.corrections.labels(self.name))

    def describe(self, data: dict[str, Any], confidence: float | None = None) -> list[str]:
        """A stored result as lines of text; by default its keys and values."""
        return describe_data(data)


def describe_data(data: Any, limit: int = 200) -> list[str]:
    """Any JSON result as ``key: value`` lines, long values cut."""
    import json

    if not isinstance(data, dict):
        return [_cut(json.dumps(data, ensure_ascii=False, default=str), limit)]
    return [f"{k}: {_cut(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str), limit)}"
            for k, v in data.items()]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

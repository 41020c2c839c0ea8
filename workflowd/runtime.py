"""Building what processing needs from the settings: the plugins, the steps, the tasks, the pipelines."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pluggy

from .config import Settings
from .errors import ConfigError, ModelError
from .models.provider import ModelProvider
from .pipeline import Pipelines, StepContext, StepRegistry
from .plugins import plugin_manager
from .tasks import TaskRegistry


def step_registry(settings: Settings, pm: pluggy.PluginManager | None = None) -> StepRegistry:
    return StepRegistry.from_plugins(pm or plugin_manager(settings.plugins_dir))


def task_registry(settings: Settings, pm: pluggy.PluginManager | None = None) -> TaskRegistry:
    """Every task the built-ins and the plugins provide; checks the config's per-task keys."""
    tasks = TaskRegistry.from_plugins(pm or plugin_manager(settings.plugins_dir))
    check_task_keys(settings, tasks)
    return tasks


def task(settings: Settings, name: str, models: ModelProvider | None = None) -> Any:
    """The named task (a workflowd.tasks.Task), for code that uses workflowd as a library."""
    return task_registry(settings).get(name)(settings, models or ModelProvider(settings))


def check_task_keys(settings: Settings, tasks: TaskRegistry) -> None:
    """``[training]`` keys that name tasks must name existing ones."""
    conf = settings.training
    for key, names in (("replay_data", conf.replay_data), ("validation_data", conf.validation_data),
                       ("pseudo_rehearsal", conf.pseudo_rehearsal)):
        unknown = [n for n in names if n not in tasks]
        if unknown:
            where = str(settings.file) if settings.file else "the configuration"
            raise ConfigError(
                f"invalid config file {where}:", path=str(settings.file) if settings.file else None,
                problems=[f"training.{key}: unknown task {unknown[0]!r}; tasks: {', '.join(tasks.names())}"],
            )


def build_pipelines(
    settings: Settings, registry: StepRegistry | None = None, previous: Pipelines | None = None
) -> Pipelines:
    """Load every plugin and instantiate each configured step once; raises ConfigError/PluginError.

    With ``previous`` (a config reload), its loaded encoder is reused when the model settings
    have not changed.
    """
    pm = plugin_manager(settings.plugins_dir)
    registry = registry or step_registry(settings, pm)
    task_registry(settings, pm)
    models = ModelProvider(settings)
    if previous is not None:
        models.adopt(previous.context.models)
    context = StepContext(settings=settings, logger=logging.getLogger("workflowd.steps"), models=models)
    return Pipelines(settings, registry, context, plugins=pm)


def retrainable(pipelines: Pipelines) -> list[str]:
    """The tasks (of the pipelines' plugins) that learn from corrections."""
    tasks = TaskRegistry.from_plugins(pipelines.plugins)
    return [name for name in tasks.names() if tasks.get(name).retrainer is not None]


def needs_base_model(pipelines: Pipelines) -> bool:
    """Whether a step in use needs the shared encoder: every built-in step does, and any step
    that asks the pipeline for embeddings or tokens."""
    return any(step.needs or type(step).__module__.startswith("workflowd.tasks.") for step in pipelines.steps.values())


def check_base_model(settings: Settings) -> str:
    """Where the base model will be loaded from, without loading it; raises ModelError (naming
    ``model.base``) when it cannot be found. Imports torch (seconds)."""
    from .models.encoder import resolve_base

    base = settings.model.base
    try:
        source = resolve_base(base)
    except ModelError as exc:
        raise ModelError(f"model.base = {base!r}: {exc}") from None
    if Path(source).is_dir():
        if not (Path(source) / "config.json").is_file():
            raise ModelError(f"model.base = {base!r}: {source} holds no config.json (not a Hugging Face model folder)")
        return source
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(source, "config.json"), str):
        return f"{source} (Hugging Face hub, in the local cache)"
    if constants.HF_HUB_OFFLINE:
        raise ModelError(
            f"model.base = {base!r}: not a folder, and not in the local Hugging Face cache while "
            "HF_HUB_OFFLINE is set"
        )
    return f"{source} (Hugging Face hub, downloaded at first use)"

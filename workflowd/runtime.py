"""Building what processing needs from the settings: the plugins, the steps, the pipelines."""

from __future__ import annotations

import logging
from pathlib import Path

from .config import Settings
from .errors import ModelError
from .pipeline import Pipelines, StepContext, StepRegistry
from .models.provider import ModelProvider
from .plugins import plugin_manager


def step_registry(settings: Settings) -> StepRegistry:
    return StepRegistry.from_plugins(plugin_manager(settings.plugins_dir))


def build_pipelines(
    settings: Settings, registry: StepRegistry | None = None, previous: Pipelines | None = None
) -> Pipelines:
    """Load every plugin and instantiate each configured step once; raises ConfigError/PluginError.

    With ``previous`` (a config reload), its loaded encoder is reused when the model settings
    have not changed.
    """
    registry = registry or step_registry(settings)
    models = ModelProvider(settings)
    if previous is not None:
        models.adopt(previous.context.models)
    context = StepContext(settings=settings, logger=logging.getLogger("workflowd.steps"), models=models)
    return Pipelines(settings, registry, context)


def needs_base_model(pipelines: Pipelines) -> bool:
    """Whether a step in use needs the shared encoder: every built-in step does, and any step
    that asks the pipeline for embeddings or tokens."""
    return any(step.needs or type(step).__module__.startswith("workflowd.steps.") for step in pipelines.steps.values())


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

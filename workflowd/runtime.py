"""Building what processing needs from the settings: the plugins, the steps, the pipelines."""

from __future__ import annotations

import logging

from .config import Settings
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

"""Building what processing needs from the settings: the plugins, the steps, the pipelines."""

from __future__ import annotations

import logging

from .config import Settings
from .pipeline import Pipelines, StepContext, StepRegistry
from .plugins import plugin_manager


def step_registry(settings: Settings) -> StepRegistry:
    return StepRegistry.from_plugins(plugin_manager(settings.plugins_dir))


def build_pipelines(settings: Settings, registry: StepRegistry | None = None) -> Pipelines:
    """Load every plugin and instantiate each configured step once; raises ConfigError/PluginError."""
    registry = registry or step_registry(settings)
    context = StepContext(settings=settings, logger=logging.getLogger("workflowd.steps"))
    return Pipelines(settings, registry, context)

"""The plugin manager: built-in steps, Python entry points and the plugins folder, loaded alike."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pluggy

from . import hookspecs
from .errors import PluginError

ENTRY_POINT_GROUP = "workflowd"

# Built-in plugins, registered exactly like third-party ones.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "workflowd.steps.classify",
    "workflowd.steps.entities",
    "workflowd.steps.summarize",
    "workflowd.steps.sentiment",
)


def plugin_manager(plugins_dir: Path | None = None) -> pluggy.PluginManager:
    """A fresh manager with the built-ins, the installed entry points and the folder's plugins."""
    pm = pluggy.PluginManager("workflowd")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    except Exception as exc:  # a broken third-party package must say who it is
        raise PluginError(f"an installed plugin (entry point group {ENTRY_POINT_GROUP!r}) failed to load: "
                          f"{type(exc).__name__}: {exc}") from exc
    if plugins_dir is not None and plugins_dir.is_dir():
        for path in sorted(plugins_dir.glob("*.py")):
            if path.name.startswith(("_", ".")):
                continue
            pm.register(load_plugin_file(path), name=f"file:{path}")
    return pm


def load_plugin_file(path: Path) -> ModuleType:
    """Import one ``.py`` file from the plugins folder as a module."""
    module_name = f"workflowd_plugins.{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin file {path} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # sys.exit() at import must not end workflowd
        sys.modules.pop(module_name, None)
        raise PluginError(f"plugin file {path} failed to load: {type(exc).__name__}: {exc}") from exc
    return module

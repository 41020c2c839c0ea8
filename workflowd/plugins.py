"""The plugin manager: built-in tasks and steps, Python entry points and the plugins folder, loaded alike.

Plugin files are trusted code: they run inside the daemon with its owner's rights. So the
plugins folder and each file in it must be owned by that user (or root) and writable by no
one else; otherwise whoever could write there could run code as the owner.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import stat
import sys
from pathlib import Path
from types import ModuleType

import pluggy

from . import hookspecs
from .errors import PluginError

ENTRY_POINT_GROUP = "workflowd"

# Built-in plugins, registered exactly like third-party ones (their order is the tasks' order; the
# surges of alerts come after the tasks, and their hook runs after the rules', which is tryfirst).
DEFAULT_PLUGINS: tuple[str, ...] = (
    "workflowd.tasks.classify",
    "workflowd.tasks.entities",
    "workflowd.tasks.summarize",
    "workflowd.tasks.sentiment",
    "workflowd.rules.plugin",
    "workflowd.alerts.plugin",
)


def plugin_manager(plugins_dir: Path | None = None, *, builtins: bool = True) -> pluggy.PluginManager:
    """A fresh manager with the built-ins (unless ``builtins`` is false: the extractor child,
    which needs no model), the installed entry points and the folder's plugins."""
    pm = pluggy.PluginManager("workflowd")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS if builtins else ():
        pm.register(importlib.import_module(name), name=name)
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    except Exception as exc:  # a broken third-party package must say who it is
        raise PluginError(f"an installed plugin (entry point group {ENTRY_POINT_GROUP!r}) failed to load: "
                          f"{type(exc).__name__}: {exc}") from exc
    if plugins_dir is not None and plugins_dir.is_dir():
        check_trusted(plugins_dir, "plugins folder")
        for path in sorted(plugins_dir.glob("*.py")):
            if path.name.startswith(("_", ".")):
                continue
            check_trusted(path, "plugin file")
            pm.register(load_plugin_file(path), name=f"file:{path}")
    return pm


def check_trusted(path: Path, what: str) -> None:
    """Refuse (PluginError) a plugins folder or file that another user owns or may write to."""
    st = os.stat(path)
    if st.st_uid not in (os.geteuid(), 0):
        raise PluginError(
            f"{what} {path} belongs to another user (uid {st.st_uid}): plugin files run as you, with "
            "your rights, so they must be yours (or root's)"
        )
    loose = stat.S_IMODE(st.st_mode) & 0o022
    if loose:
        who = " and ".join(w for bit, w in ((0o020, "its group"), (0o002, "every user")) if loose & bit)
        raise PluginError(
            f"{what} {path} is writable by {who} (mode {stat.S_IMODE(st.st_mode):04o}): plugin files run "
            f"as you, with your rights, so no one else may change them; `chmod go-w {path}` fixes it"
        )


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

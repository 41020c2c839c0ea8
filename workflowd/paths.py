"""Default locations, following the XDG base directory specification."""

from __future__ import annotations

import os
from pathlib import Path

APP = "workflowd"


def _xdg(var: str, fallback: str) -> Path:
    value = os.environ.get(var, "")
    # The spec says relative paths in these variables are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def config_home() -> Path:
    return _xdg("XDG_CONFIG_HOME", ".config") / APP


def data_home() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / APP


def default_config_path() -> Path:
    return config_home() / "config.toml"


def default_inbox() -> Path:
    return Path.home() / APP / "inbox"


def expand(path: str | Path, base: Path | None = None) -> Path:
    """Expand ``~`` and environment variables; make relative paths relative to ``base``."""
    p = Path(os.path.expandvars(os.path.expanduser(str(path))))
    if not p.is_absolute():
        p = (base or Path.cwd()) / p
    return p

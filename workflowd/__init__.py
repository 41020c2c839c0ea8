"""workflowd: a personal workflow automation daemon.

What plugin authors need is importable from here::

    from workflowd import Document, Extraction, Extractor, Step, StepResult, hookimpl

The names are loaded on first use, so that processes that need none of them (the
extractor child) start light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "hookimpl": "workflowd.hookspecs",
    "Document": "workflowd.pipeline.step",
    "Extraction": "workflowd.extract.result",
    "Extractor": "workflowd.extract.core",
    "NoSettings": "workflowd.pipeline.step",
    "Step": "workflowd.pipeline.step",
    "StepContext": "workflowd.pipeline.step",
    "StepResult": "workflowd.pipeline.step",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'workflowd' has no attribute {name!r}")

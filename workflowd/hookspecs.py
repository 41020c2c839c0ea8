"""The hooks a workflowd plugin can implement. Built-in steps use the same hooks."""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("workflowd")
hookimpl = pluggy.HookimplMarker("workflowd")


@hookspec
def register_steps() -> list[Any]:  # type: ignore[empty-body]
    """Return the pipeline Step classes this plugin provides."""

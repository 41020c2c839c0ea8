"""Task names to Task classes, gathered from every plugin's ``register_tasks`` hook."""

from __future__ import annotations

import pluggy

from ..errors import PluginError
from ..pipeline.step import Step
from .base import Task


class UnknownTaskError(PluginError):
    """A command names a task that no plugin provides."""


class TaskRegistry:
    def __init__(self) -> None:
        self._tasks: dict[str, type[Task]] = {}
        self._origin: dict[str, str] = {}

    @classmethod
    def from_plugins(cls, pm: pluggy.PluginManager) -> TaskRegistry:
        registry = cls()
        for impl in pm.hook.register_tasks.get_hookimpls():
            try:
                provided = impl.function() or []
            except Exception as exc:
                raise PluginError(f"plugin {impl.plugin_name} failed in register_tasks: {exc}") from exc
            for task_cls in provided:
                registry.add(task_cls, origin=impl.plugin_name)
        return registry

    def add(self, task_cls: type[Task], origin: str = "") -> None:
        who = origin or "a plugin"
        if not (isinstance(task_cls, type) and issubclass(task_cls, Task)):
            raise PluginError(f"{who} registered {task_cls!r}, which is not a Task subclass")
        name = getattr(task_cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"task class {task_cls.__qualname__} from {who} has no name")
        step = getattr(task_cls, "step", None)
        if not (isinstance(step, type) and issubclass(step, Step)) or step.name != name:
            raise PluginError(f"task {name!r} from {who} needs a step of the same name (its `step` attribute)")
        if name in self._tasks and self._tasks[name] is not task_cls:
            raise PluginError(f"task {name!r} is provided twice: by {self._origin[name]} and by {origin}")
        self._tasks[name] = task_cls
        self._origin[name] = origin

    def get(self, name: str) -> type[Task]:
        try:
            return self._tasks[name]
        except KeyError:
            raise UnknownTaskError(f"unknown task {name!r}. Available tasks: {', '.join(self.names()) or 'none'}") from None

    def origin(self, name: str) -> str:
        return self._origin[name]

    def names(self) -> list[str]:
        """Task names in the order they were registered (the built-in ones first)."""
        return list(self._tasks)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self):  # noqa: ANN204
        return iter(self.names())

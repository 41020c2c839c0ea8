"""Step names to Step classes, gathered from every plugin's ``register_steps`` hook."""

from __future__ import annotations

import pluggy

from ..errors import PluginError, UnknownStepError
from .step import Step


class StepRegistry:
    def __init__(self) -> None:
        self._steps: dict[str, type[Step]] = {}
        self._origin: dict[str, str] = {}

    @classmethod
    def from_plugins(cls, pm: pluggy.PluginManager) -> StepRegistry:
        registry = cls()
        for impl in pm.hook.register_steps.get_hookimpls():
            try:
                provided = impl.function() or []
            except (Exception, SystemExit) as exc:
                raise PluginError(f"plugin {impl.plugin_name} failed in register_steps: {exc}") from exc
            for step_cls in provided:
                registry.add(step_cls, origin=impl.plugin_name)
        return registry

    def add(self, step_cls: type[Step], origin: str = "") -> None:
        if not (isinstance(step_cls, type) and issubclass(step_cls, Step)):
            raise PluginError(f"{origin or 'a plugin'} registered {step_cls!r}, which is not a Step subclass")
        name = getattr(step_cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"step class {step_cls.__qualname__} from {origin} has no name")
        if name in self._steps and self._steps[name] is not step_cls:
            raise PluginError(f"step {name!r} is provided twice: by {self._origin[name]} and by {origin}")
        self._steps[name] = step_cls
        self._origin[name] = origin

    def get(self, name: str, where: str = "") -> type[Step]:
        try:
            return self._steps[name]
        except KeyError:
            raise UnknownStepError(name, list(self._steps), where) from None

    def origin(self, name: str) -> str:
        return self._origin[name]

    def names(self) -> list[str]:
        return sorted(self._steps)

    def __contains__(self, name: object) -> bool:
        return name in self._steps

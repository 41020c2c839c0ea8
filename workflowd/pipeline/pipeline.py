"""Pipelines: the configured steps, built once and run over each document."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pydantic import ValidationError

from ..config import Settings, describe_errors
from ..errors import ConfigError
from .registry import StepRegistry
from .step import Document, Step, StepContext, StepResult

log = logging.getLogger("workflowd.pipeline")


@dataclass
class StepOutcome:
    step: str
    result: StepResult | None = None
    error: str | None = None


class Pipeline:
    def __init__(self, name: str, steps: list[Step]):
        self.name = name
        self.steps = steps

    @property
    def step_names(self) -> list[str]:
        return [s.name for s in self.steps]

    def run(self, doc: Document) -> list[StepOutcome]:
        """Run every step; a step that raises fails alone and the others still run."""
        outcomes = []
        for step in self.steps:
            try:
                result = step.run(doc)
                if not isinstance(result, StepResult):
                    raise TypeError(f"step returned {type(result).__name__}, not StepResult")
            except Exception as exc:
                log.exception("step %s failed on document %s", step.name, doc.id)
                outcomes.append(StepOutcome(step.name, error=f"{type(exc).__name__}: {exc}"))
                continue
            doc.results[step.name] = result.data
            outcomes.append(StepOutcome(step.name, result=result))
        return outcomes


class Pipelines:
    """Every configured pipeline, sharing one instance of each step."""

    def __init__(self, settings: Settings, registry: StepRegistry, context: StepContext):
        self.steps: dict[str, Step] = {}
        self.pipelines: dict[str, Pipeline] = {}
        for name in settings.steps:  # a [steps.<name>] table for a step that does not exist
            registry.get(name, where=f"the [steps.{name}] table of {_where(settings)}")
        for pname, pconf in settings.pipelines.items():
            steps = []
            for sname in pconf.steps:
                step_cls = registry.get(sname, where=f"pipelines.{pname}.steps of {_where(settings)}")
                if sname not in self.steps:
                    self.steps[sname] = step_cls(_step_settings(settings, sname, step_cls), context)
                steps.append(self.steps[sname])
            self.pipelines[pname] = Pipeline(pname, steps)

    def require(self, name: str) -> Pipeline:
        """The named pipeline, or a ConfigError listing the defined ones."""
        if name not in self.pipelines:
            known = ", ".join(sorted(self.pipelines))
            raise ConfigError(f"unknown pipeline {name!r}; defined pipelines: {known}")
        return self.pipelines[name]

    def get(self, name: str | None) -> Pipeline:
        """The named pipeline; a pipeline removed from the config since falls back to ``default``."""
        return self.pipelines.get(name or "default") or self.pipelines["default"]

    def close(self) -> None:
        for step in self.steps.values():
            try:
                step.close()
            except Exception:
                log.exception("step %s failed to close", step.name)


def _step_settings(settings: Settings, name: str, step_cls: type[Step]):  # noqa: ANN202
    try:
        return step_cls.Settings.model_validate(settings.steps.get(name, {}))
    except ValidationError as exc:
        problems = describe_errors(exc, step_cls.Settings, prefix=f"steps.{name}.")
        raise ConfigError(f"invalid settings for step {name!r} in {_where(settings)}:",
                          path=str(settings.file) if settings.file else None, problems=problems) from None


def _where(settings: Settings) -> str:
    return str(settings.file) if settings.file else "the default config"

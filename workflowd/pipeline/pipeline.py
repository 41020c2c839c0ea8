"""Pipelines: the configured steps, built once and run over each document."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..config import Settings, describe_errors
from ..errors import ConfigError, PluginError, WorkflowdError
from .registry import StepRegistry
from .step import EMBEDDING, TOKENS, Document, Step, StepContext, StepResult

log = logging.getLogger("workflowd.pipeline")


@dataclass
class StepOutcome:
    step: str
    result: StepResult | None = None
    error: str | None = None


BATCH_CHARS = 200_000  # text encoded together: about 200 windows, 80 MB of token states


def _by_budget(docs: list[Document], budget: int) -> list[list[Document]]:
    """Consecutive groups of documents of at most ``budget`` characters (one longer document
    is a group of its own)."""
    groups: list[list[Document]] = []
    size = budget + 1
    for doc in docs:
        n = len(doc.text)
        if size + n > budget:
            groups.append([])
            size = 0
        groups[-1].append(doc)
        size += n
    return groups


class _Forks(set):
    """Fork layers, and the names of the steps that read them."""

    def __init__(self) -> None:
        super().__init__()
        self.users: set[str] = set()


class Pipeline:
    def __init__(self, name: str, steps: list[Step], context: StepContext):
        self.name = name
        self.steps = steps
        self.context = context
        self.needs = frozenset().union(*(s.needs for s in steps)) if steps else frozenset()

    @property
    def step_names(self) -> list[str]:
        return [s.name for s in self.steps]

    def run(self, doc: Document) -> list[StepOutcome]:
        return self.run_batch([doc])[0]

    def run_batch(self, docs: list[Document], only: str | None = None) -> list[list[StepOutcome]]:
        """Run every step (or ``only`` the named one) over the documents; one encoder pass per
        window feeds all the steps. Documents are taken together up to BATCH_CHARS of text (the
        token states of a batch are held at once), so many short ones share full, evenly long
        batches of windows and a few long ones do not fill the memory.

        A step that raises fails alone, for the document it raised on: the others still run.
        """
        outcomes: list[list[StepOutcome]] = []
        for group in _by_budget(docs, BATCH_CHARS):
            outcomes += self._run_group(group, only)
        return outcomes

    def _run_group(self, docs: list[Document], only: str | None) -> list[list[StepOutcome]]:
        steps = [s for s in self.steps if only is None or s.name == only]
        needs = frozenset().union(*(s.needs for s in steps)) if steps else frozenset()
        forks = self._forks(steps)
        encode_errors = (self._encode(docs, TOKENS in needs, forks) if needs & {EMBEDDING, TOKENS} or forks
                         else {})
        outcomes: list[list[StepOutcome]] = [[] for _ in docs]
        for step in steps:
            ready = [i for i, d in enumerate(docs) if not ((step.needs or step.name in forks.users) and i in encode_errors)]
            for i in set(range(len(docs))) - set(ready):
                outcomes[i].append(StepOutcome(step.name, error=encode_errors[i]))
            for i, outcome in zip(ready, self._run_step(step, [docs[i] for i in ready]), strict=True):
                if outcome.result is not None:
                    docs[i].results[step.name] = outcome.result.data
                outcomes[i].append(outcome)
        return outcomes

    def _forks(self, steps: list[Step]) -> _Forks:
        """The layers the steps' branches fork at. A step whose model cannot load here gives
        none: it fails on its own when it runs."""
        forks = _Forks()
        for step in steps:
            try:
                mine = frozenset(step.forks())
            except Exception:  # noqa: BLE001 - the step reports it when it runs
                log.debug("step %s: no fork layers (its model did not load)", step.name, exc_info=True)
                continue
            if mine:
                forks.update(mine)
                forks.users.add(step.name)
        return forks

    def _encode(self, docs: list[Document], tokens: bool, forks: frozenset[int] = frozenset()) -> dict[int, str]:
        """Set ``doc.encoded`` for each document; returns the errors of those that could not be."""
        texts = [d.text for d in docs]
        forks = frozenset(forks)
        models = self.context.models
        try:
            for doc, enc in zip(docs, models.encoder.encode_documents(texts, tokens=tokens, forks=forks), strict=True):
                doc.encoded = enc
            return {}
        except Exception:
            log.exception("encoding a batch of %d documents failed; trying them one by one", len(docs))
        errors = {}
        for i, doc in enumerate(docs):
            try:
                doc.encoded = models.encoder.encode_documents([doc.text], tokens=tokens, forks=forks)[0]
            except Exception as exc:
                errors[i] = f"the encoder failed on this document: {type(exc).__name__}: {exc}"
        return errors

    def _run_step(self, step: Step, docs: list[Document]) -> list[StepOutcome]:
        """A step's outcome for each document. Whatever it raises (SystemExit from a plugin's
        ``sys.exit()`` included; KeyboardInterrupt excepted) fails that step of that document."""
        if not docs:
            return []
        try:
            results = step.run_batch(docs)
            if len(results) == len(docs) and all(isinstance(r, StepResult) for r in results):
                return [StepOutcome(step.name, result=r) for r in results]
            raise TypeError("run_batch did not return one StepResult per document")
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - each document is tried alone below, its error kept
            if len(docs) > 1:
                log.warning("step %s failed on a batch; running its %d documents one by one", step.name, len(docs))
        out = []
        for doc in docs:
            try:
                result = step.run(doc)
                if not isinstance(result, StepResult):
                    raise TypeError(f"step returned {type(result).__name__}, not StepResult")
                out.append(StepOutcome(step.name, result=result))
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                log.exception("step %s failed on document %s", step.name, doc.id)
                out.append(StepOutcome(step.name, error=describe_failure(exc)))
        return out


class Pipelines:
    """Every configured pipeline, sharing one instance of each step. ``plugins``: the plugin
    manager the steps came from, whose ``document_processed`` hook runs after each document."""

    def __init__(self, settings: Settings, registry: StepRegistry, context: StepContext, plugins: Any = None):
        self.context = context
        self.plugins = plugins
        self.steps: dict[str, Step] = {}
        self.pipelines: dict[str, Pipeline] = {}
        for name in settings.steps:  # a [steps.<name>] table: the step exists, its keys are right
            step_cls = registry.get(name, where=f"the [steps.{name}] table of {_where(settings)}")
            step_settings(settings, name, step_cls)  # even when no pipeline uses it (yet)
        for pname, pconf in settings.pipelines.items():
            steps = []
            for sname in pconf.steps:
                step_cls = registry.get(sname, where=f"pipelines.{pname}.steps of {_where(settings)}")
                if sname not in self.steps:
                    self.steps[sname] = _start_step(step_cls, step_settings(settings, sname, step_cls), context)
                steps.append(self.steps[sname])
            self.pipelines[pname] = Pipeline(pname, steps, context)

    def require(self, name: str) -> Pipeline:
        """The named pipeline, or a ConfigError listing the defined ones."""
        if name not in self.pipelines:
            known = ", ".join(sorted(self.pipelines))
            raise ConfigError(f"unknown pipeline {name!r}; defined pipelines: {known}")
        return self.pipelines[name]

    def get(self, name: str | None) -> Pipeline:
        """The named pipeline; a pipeline removed from the config since falls back to ``default``."""
        return self.pipelines.get(name or "default") or self.pipelines["default"]

    def warm_up(self) -> None:
        """Load the shared encoder (when a step needs embeddings or tokens) and what each step
        needs, so that the first document does not wait; then build the runtime's graph of the
        shared pass with the states the steps' branches read. A step that fails here is logged
        and the others still warm up: its first document then loads (or fails) as it would have."""
        encoder = None
        if any(step.needs & {EMBEDDING, TOKENS} for step in self.steps.values()):
            try:
                encoder = self.context.models.encoder
            except Exception:
                log.exception("warm-up: the shared encoder could not be loaded")
        for step in self.steps.values():
            try:
                step.warm_up()
            except KeyboardInterrupt:
                raise
            except BaseException:  # a plugin's failure (sys.exit() included) is its own
                log.exception("warm-up of step %s failed; its first document loads what it needs", step.name)
        forks = frozenset().union(*(p._forks(p.steps) for p in self.pipelines.values()))
        try:
            if forks and encoder is None:  # the steps' branches loaded it
                encoder = self.context.models.encoder
            prepare = getattr(encoder, "prepare", None)
            if prepare is not None:
                prepare(forks)
        except Exception:
            log.exception("warm-up: the shared pass could not be prepared; the first document does it")

    def close(self) -> None:
        for step in self.steps.values():
            try:
                step.close()
            except KeyboardInterrupt:
                raise
            except BaseException:
                log.exception("step %s failed to close", step.name)


def describe_failure(exc: BaseException) -> str:
    """What a failed step stores as its error."""
    if isinstance(exc, SystemExit):
        return f"SystemExit: the step tried to exit workflowd (sys.exit({exc.code!r})); only this step failed"
    return f"{type(exc).__name__}: {exc}"


def _start_step(step_cls: type[Step], step_settings: Any, context: StepContext) -> Step:
    """Instantiate a step; a plugin that fails here (or calls sys.exit()) is a PluginError."""
    try:
        return step_cls(step_settings, context)
    except (WorkflowdError, KeyboardInterrupt):
        raise
    except BaseException as exc:
        raise PluginError(f"step {step_cls.name!r} failed to start: {describe_failure(exc)}") from exc


def step_settings(settings: Settings, name: str, step_cls: type[Step]):  # noqa: ANN201
    """The step's ``[steps.<name>]`` table through its Settings model; ConfigError on problems."""
    try:
        return step_cls.Settings.model_validate(settings.steps.get(name, {}))
    except ValidationError as exc:
        problems = describe_errors(exc, step_cls.Settings, prefix=f"steps.{name}.")
        raise ConfigError(f"invalid settings for step {name!r} in {_where(settings)}:",
                          path=str(settings.file) if settings.file else None, problems=problems) from None


def _where(settings: Settings) -> str:
    return str(settings.file) if settings.file else "the default config"

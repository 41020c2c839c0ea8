"""The ``[[rules]]`` of the config: conditions on a document and its results, then actions.

Every key here is documented in config.example.toml; the README has a worked example.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..tagged import type_union
from .templates import check

OnConflict = Literal["rename_new", "skip", "overwrite", "rename_existing", "trash"]
ON_CONFLICT_HELP = (
    "when the target exists: rename_new (a numbered name, the default), skip, overwrite, "
    "rename_existing (number the file already there), trash (move the one there to the data dir's trash)"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _listed(v: Any) -> Any:
    return [v] if isinstance(v, str) else v


def _regex(pattern: str, where: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{where} {pattern!r} is not a valid regular expression: {exc}") from None
    return pattern


class EntityCondition(_Strict):
    """An entity of a type (PER, ORG, MONEY...), its text matching a regular expression if given."""

    type: str | None = None
    pattern: str | None = None

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        return None if v is None else _regex(v, "entity pattern")


class When(_Strict):
    """Conditions, all of which must hold (a list means any of its values). None: not checked."""

    label: list[str] | None = None  # classify's label, without regard to case
    labelled: bool | None = None  # true: classify gave a label; false: it abstained (or did not run)
    min_confidence: float | None = Field(None, ge=0.0, le=1.0)  # classify's confidence
    tag: list[str] | None = None  # the document has one of these tags
    source: list[str] | None = None  # glob over the source's name, e.g. "imap:*"
    media_type: list[str] | None = None  # glob, e.g. "application/pdf", "image/*"
    name: list[str] | None = None  # glob over the file's name, without regard to case, e.g. "*.pdf"
    path: list[str] | None = None  # glob over the file's full path
    text: str | None = None  # a regular expression searched in the text (case-insensitive)
    entity: EntityCondition | None = None  # "ORG", or { type = "MONEY", pattern = "€" }
    sentiment: list[str] | None = None  # the sentiment step's label
    min_sentiment_score: float | None = Field(None, ge=-1.0, le=1.0)
    max_sentiment_score: float | None = Field(None, ge=-1.0, le=1.0)
    is_attachment: bool | None = None  # the document came out of a mail or an archive

    @field_validator("label", "tag", "source", "media_type", "name", "path", "sentiment", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> Any:
        return _listed(v)

    @field_validator("entity", mode="before")
    @classmethod
    def _entity_type(cls, v: Any) -> Any:
        return {"type": v} if isinstance(v, str) else v

    @field_validator("text")
    @classmethod
    def _text_compiles(cls, v: str | None) -> str | None:
        return None if v is None else _regex(v, "when.text")


class _FileAction(_Strict):
    to: str
    on_conflict: OnConflict = "rename_new"

    @field_validator("to")
    @classmethod
    def _template(cls, v: str) -> str:
        return check(v, "to")


class _RootedAction(_FileAction):
    @field_validator("to")
    @classmethod
    def _rooted(cls, v: str) -> str:
        return _rooted_target(v)


class MoveAction(_RootedAction):
    """Move the file to ``to`` (a path template under a fixed folder); its location follows."""

    type: Literal["move"]


class CopyAction(_RootedAction):
    """Copy the file to ``to`` (a path template under a fixed folder)."""

    type: Literal["copy"]


class RenameAction(_FileAction):
    """Give the file a new name (a template) in the folder where it is."""

    type: Literal["rename"]

    @field_validator("to")
    @classmethod
    def _a_name(cls, v: str) -> str:
        literal = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", v, flags=re.DOTALL)
        if "/" in literal:
            raise ValueError(f"rename.to {v!r} is a new name, without a folder: use move to change folders")
        return v


class TagAction(_Strict):
    """Add tags (templates) to the document."""

    type: Literal["tag"]
    tags: list[str] = Field(min_length=1)

    @field_validator("tags", mode="before")
    @classmethod
    def _one(cls, v: Any) -> Any:
        return _listed(v)

    @field_validator("tags")
    @classmethod
    def _templates(cls, v: list[str]) -> list[str]:
        return [check(t, "tag") for t in v]


class RunAction(_Strict):
    """Run a program: an argv list (each item a template), never through a shell."""

    type: Literal["run"]
    argv: list[str] = Field(min_length=1)
    timeout: float = Field(60.0, gt=0, description="seconds before the program is killed")

    @field_validator("argv", mode="before")
    @classmethod
    def _not_a_shell_string(cls, v: Any) -> Any:
        if isinstance(v, str):
            raise ValueError(
                'argv is a list of arguments, never a shell string: e.g. argv = ["notify-send", "{{ title }}"]'
            )
        return v

    @field_validator("argv")
    @classmethod
    def _templates(cls, v: list[str]) -> list[str]:
        return [check(a, "argv item") for a in v]


class NotifyAction(_Strict):
    """Make an alert and send it to the named notifiers (none: it is only logged and listed)."""

    type: Literal["notify"]
    to: list[str] = Field(default_factory=list)
    level: Literal["info", "warning", "critical"] = "warning"
    message: str = "{{ rule }}: {{ title }}"

    @field_validator("to", mode="before")
    @classmethod
    def _one(cls, v: Any) -> Any:
        return _listed(v)

    @field_validator("message")
    @classmethod
    def _template(cls, v: str) -> str:
        return check(v, "message")


ACTION_MODELS: dict[str, type[BaseModel]] = {
    "move": MoveAction,
    "copy": CopyAction,
    "rename": RenameAction,
    "tag": TagAction,
    "run": RunAction,
    "notify": NotifyAction,
}


Action = type_union(ACTION_MODELS, what="action")


class RuleSettings(_Strict):
    """One rule: when every condition holds, its actions run in order (a failing action ends the rule)."""

    name: str = Field(min_length=1)
    when: When = Field(default_factory=When)
    actions: list[Action] = Field(min_length=1)
    stop: bool = False  # when this rule matched, no later rule is tried for the document
    enabled: bool = True


def _rooted_target(v: str) -> str:
    """A move or copy target starts with a fixed folder (absolute or ~/): its target root."""
    if not v.startswith(("/", "~/")):
        raise ValueError(
            f"to {v!r} must start with a fixed folder, absolute or under ~/ (e.g. "
            "\"~/Documents/{{ label }}/{{ name }}\"): rendered values stay inside it"
        )
    if "{" in root_of(v) or root_of(v) in ("/", "~/", "~"):
        raise ValueError(f"to {v!r} needs a fixed folder before its first template value (not / or ~ alone)")
    return v


def root_of(template: str) -> str:
    """The fixed folder a target template starts with: everything up to the last / before the
    first ``{{`` or ``{%`` (the whole folder part when there is none)."""
    cut = min((i for i in (template.find("{{"), template.find("{%")) if i >= 0), default=len(template))
    head = template[:cut]
    return head[: head.rfind("/") + 1] if "/" in head else ""

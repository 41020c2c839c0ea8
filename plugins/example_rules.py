"""Tag documents whose text matches regular expressions: an example workflowd plugin.

Copy this file into your plugins folder (``plugins_dir`` in the config), add ``"rules"`` to
a pipeline and give it patterns::

    plugins_dir = "~/.config/workflowd/plugins"

    [pipelines.default]
    steps = ["rules"]

    [steps.rules.tags]
    tax = 'tax (return|office|assessment)'
    receipt = 'receipt|thank you for your (order|purchase)'

Each document then gets ``{"tags": [...], "matches": {tag: "matched text"}}``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workflowd import Document, Step, StepResult, hookimpl


class RulesSettings(BaseModel):
    """Settings of the ``rules`` step (the ``[steps.rules]`` table).

    Attributes:
        tags: tag name -> regular expression (Python syntax) searched in the document.
        ignore_case: match without regard to case.
        fields: which parts of the document are searched.
    """

    model_config = ConfigDict(extra="forbid")

    tags: dict[str, str] = Field(default_factory=dict)
    ignore_case: bool = True
    fields: list[str] = Field(default_factory=lambda: ["title", "name", "text"])

    @field_validator("tags")
    @classmethod
    def _patterns_compile(cls, tags: dict[str, str]) -> dict[str, str]:
        for tag, pattern in tags.items():
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"pattern for tag {tag!r} is not a valid regular expression: {exc}") from None
        return tags

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, fields: list[str]) -> list[str]:
        unknown = set(fields) - {"title", "name", "text"}
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}; choose from title, name, text")
        return fields


class RulesStep(Step):
    """Tag a document with every configured tag whose pattern it matches."""

    name = "rules"
    description = "tags from regular expressions in the config"
    Settings = RulesSettings

    def __init__(self, settings: RulesSettings, context):  # noqa: ANN001
        super().__init__(settings, context)
        flags = re.IGNORECASE if settings.ignore_case else 0
        self.patterns = {tag: re.compile(p, flags) for tag, p in settings.tags.items()}

    def run(self, doc: Document) -> StepResult:
        haystack = "\n".join(getattr(doc, f) or "" for f in self.settings.fields)
        matches = {}
        for tag, pattern in self.patterns.items():
            found = pattern.search(haystack)
            if found:
                matches[tag] = found.group(0)[:200]
        return StepResult({"tags": sorted(matches), "matches": matches})


@hookimpl
def register_steps() -> list[type[Step]]:
    return [RulesStep]

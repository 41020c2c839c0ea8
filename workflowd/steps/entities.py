"""The ``entities`` step: what a document names, with character offsets into its text.

For now the pattern entities that personal documents need: DATE (ISO 8601), MONEY (amount
and currency), EMAIL, URL, PHONE (E.164) and IBAN (checksum-validated); see
workflowd/entities/patterns.py. The learned types (PER, ORG, LOC, MISC) are not part of it
yet.
"""

from __future__ import annotations

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..entities import PATTERN_TYPES, find_pattern_entities
from ..hookspecs import hookimpl
from ..pipeline.step import Document, Step, StepResult


class EntitiesSettings(BaseModel):
    """Settings of the ``entities`` step (``[steps.entities]``).

    Attributes:
        types: the pattern types to find.
        phone_region: a two-letter country code; national numbers of that country count as
            phone numbers too (without it, only international +... numbers do).
        day_first: read an ambiguous numeric date such as 01/03/2024 as 1 March.
    """

    model_config = ConfigDict(extra="forbid")

    types: list[str] = Field(default_factory=lambda: list(PATTERN_TYPES))
    phone_region: str | None = None
    day_first: bool = True

    @field_validator("types")
    @classmethod
    def _known_types(cls, types: list[str]) -> list[str]:
        unknown = sorted(set(types) - set(PATTERN_TYPES))
        if unknown:
            raise ValueError(
                f"unknown entity type(s) {', '.join(unknown)}; known: {', '.join(PATTERN_TYPES)}"
            )
        return types

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, region: str | None) -> str | None:
        if region is not None and region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f"unknown phone region {region!r}; use a two-letter country code such as US or DE"
            )
        return region.upper() if region else None


class Entities(Step):
    """Find dates, amounts, addresses, links, phone numbers and IBANs in the text."""

    name = "entities"
    description = (
        "dates, money, e-mail addresses, URLs, phone numbers and IBANs, with offsets and normalised values"
    )
    Settings = EntitiesSettings

    def run(self, doc: Document) -> StepResult:
        s = self.settings
        found = find_pattern_entities(
            doc.text, types=tuple(s.types), phone_region=s.phone_region, day_first=s.day_first
        )
        counts: dict[str, int] = {}
        for e in found:
            counts[e.type] = counts.get(e.type, 0) + 1
        return StepResult({"entities": [e.as_dict() for e in found], "counts": counts})


@hookimpl
def register_steps() -> list[type[Step]]:
    return [Entities]

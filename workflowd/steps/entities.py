"""The ``entities`` step: what a document names, with character offsets into its text.

Two kinds, merged into one list sorted by position:
- learned names, PER, ORG, LOC and MISC: a token tagger (workflowd/ner/) on the shared
  encoder with a LoRA adapter, the promoted trained version (``workflowd train --task
  entities``) or the one shipped with workflowd, trained on CoNLL-2003
  (workflowd/artifacts/entities/MODEL_CARD.md). One extra encoder pass per document;
- pattern entities that personal documents need: DATE (ISO 8601), MONEY (amount and
  currency), EMAIL, URL, PHONE (E.164) and IBAN (checksum-validated); see
  workflowd/entities/patterns.py. Where a pattern entity and a learned one overlap, the
  pattern entity wins (an e-mail address is not an organisation).
"""

from __future__ import annotations

import logging
from pathlib import Path

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..entities import PATTERN_TYPES, find_pattern_entities
from ..hookspecs import hookimpl
from ..models.in_use import ModelInUse
from ..ner.conll import TYPES as LEARNED_TYPES
from ..pipeline.step import Document, Step, StepContext, StepResult

TASK = "entities"
log = logging.getLogger("workflowd.steps")
SHIPPED = Path(__file__).resolve().parent.parent / "artifacts" / "entities"
ALL_TYPES = (*LEARNED_TYPES, *PATTERN_TYPES)


class EntitiesSettings(BaseModel):
    """Settings of the ``entities`` step (``[steps.entities]``).

    Attributes:
        types: the types to find: learned PER, ORG, LOC, MISC and pattern DATE, MONEY,
            EMAIL, URL, PHONE, IBAN. Without a learned type the tagger does not run.
        min_confidence: learned entities below this confidence are left out.
        phone_region: a two-letter country code; national numbers of that country count as
            phone numbers too (without it, only international +... numbers do).
        day_first: read an ambiguous numeric date such as 01/03/2024 as 1 March.
    """

    model_config = ConfigDict(extra="forbid")

    types: list[str] = Field(default_factory=lambda: list(ALL_TYPES))
    min_confidence: float = Field(0.5, ge=0.0, le=1.0)
    phone_region: str | None = None
    day_first: bool = True

    @field_validator("types")
    @classmethod
    def _known_types(cls, types: list[str]) -> list[str]:
        unknown = sorted(set(types) - set(ALL_TYPES))
        if unknown:
            raise ValueError(f"unknown entity type(s) {', '.join(unknown)}; known: {', '.join(ALL_TYPES)}")
        return types

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, region: str | None) -> str | None:
        if region is not None and region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f"unknown phone region {region!r}; use a two-letter country code such as US or DE"
            )
        return region.upper() if region else None

    @property
    def learned(self) -> list[str]:
        return [t for t in self.types if t in LEARNED_TYPES]


def tagger_model(models, logger: logging.Logger = log) -> ModelInUse:  # noqa: ANN001
    """The tagger of the task: the promoted version, else the shipped one."""
    from ..ner.tagger import load_tagger

    return ModelInUse(
        TASK,
        load=lambda v: load_tagger(Path(v.path), models.encoder, version=v.version),
        builtin=lambda: load_tagger(SHIPPED, models.encoder, version="shipped"),
        name=lambda tagger: tagger.version,
        logger=logger,
    )


def tagger_in_use(provider, version: str | None = None):  # noqa: ANN001, ANN201
    """The given trained tagger, else the promoted one, else the shipped one."""
    return tagger_model(provider).resolve(provider, version)


class Entities(Step):
    """Find names of people, organisations, places and other things, and dates, amounts,
    addresses, links, phone numbers and IBANs."""

    name = "entities"
    description = (
        "people, organisations, places and other names; dates, money, e-mail addresses, URLs, "
        "phone numbers and IBANs; with offsets and normalised values"
    )
    Settings = EntitiesSettings

    def __init__(self, settings: EntitiesSettings, context: StepContext):
        super().__init__(settings, context)
        self._model: ModelInUse | None = None
        if settings.learned:  # only pattern types: no model to load
            self._model = tagger_model(context.models, context.logger)

    def run(self, doc: Document) -> StepResult:
        return self.run_batch([doc])[0]

    def run_batch(self, docs: list[Document]) -> list[StepResult]:
        s = self.settings
        learned: list[list] = [[] for _ in docs]
        version = None
        if self._model is not None:
            tagger = self._model.get(self.context.models)
            version = tagger.version
            wanted = set(s.learned)
            for i, spans in enumerate(tagger.predict([d.text for d in docs])):
                learned[i] = [sp for sp in spans if sp.type in wanted and sp.confidence >= s.min_confidence]
        pattern_types = tuple(t for t in s.types if t in PATTERN_TYPES)
        out = []
        for doc, spans in zip(docs, learned, strict=True):
            found = (
                [
                    e.as_dict()
                    for e in find_pattern_entities(
                        doc.text, types=pattern_types, phone_region=s.phone_region, day_first=s.day_first
                    )
                ]
                if pattern_types
                else []
            )
            taken = [(e["start"], e["end"]) for e in found]
            for sp in spans:
                if any(sp.start < b and a < sp.end for a, b in taken):
                    continue
                found.append(
                    {
                        "type": sp.type,
                        "start": sp.start,
                        "end": sp.end,
                        "text": doc.text[sp.start : sp.end],
                        "confidence": round(sp.confidence, 4),
                    }
                )
            found.sort(key=lambda e: (e["start"], e["end"]))
            counts: dict[str, int] = {}
            for e in found:
                counts[e["type"]] = counts.get(e["type"], 0) + 1
            # how sure the tagger is of the names it gave: that of its least sure one
            names = [e["confidence"] for e in found if e["type"] in LEARNED_TYPES]
            out.append(
                StepResult(
                    {"entities": found, "counts": counts},
                    model_version=version,
                    confidence=min(names) if names else None,
                )
            )
        return out


@hookimpl
def register_steps() -> list[type[Step]]:
    return [Entities]

"""A document as rules see it: its row, its step results, its tags and where its file is now."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from ..filenames import display


class _ByType(dict):  # type: ignore[type-arg]
    """Entity texts by type; a type with none found is an empty list, not an error."""

    def __missing__(self, key: str) -> list[str]:
        return []


def parse_time(value: str | None) -> datetime | None:
    """A store time (``2026-11-28T19:03:12.123Z``) as a local datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value).astimezone()  # Python 3.11 reads the Z


@dataclass(frozen=True)
class Subject:
    """What conditions and templates read. ``file`` is the document's own file as it is now
    (None when it is kept in the blob store or is gone); ``from_blobs``: a mail or attachment."""

    doc: dict[str, Any]
    results: dict[str, dict[str, Any]]
    tags: tuple[str, ...] = ()
    file: Path | None = None
    from_blobs: bool = False

    def moved_to(self, file: Path) -> Subject:
        return replace(self, file=file)

    def tagged(self, tags: list[str]) -> Subject:
        return replace(self, tags=tuple(dict.fromkeys([*self.tags, *tags])))

    def data(self, step: str) -> dict[str, Any] | None:
        row = self.results.get(step)
        if not row or row.get("status") == "failed":
            return None
        return row.get("data") or {}

    # -- what the steps found --------------------------------------------------------------

    @property
    def classified(self) -> bool:
        return self.data("classify") is not None

    @property
    def label(self) -> str | None:
        data = self.data("classify") or {}
        return None if data.get("abstained") else data.get("label")

    @property
    def best_guess(self) -> str | None:
        return (self.data("classify") or {}).get("best_guess")

    @property
    def confidence(self) -> float | None:
        row = self.results.get("classify")
        return row.get("confidence") if row and self.classified else None

    @property
    def all_tags(self) -> list[str]:
        """The document's tags: those classify gave (multi-label) and those stored (rules, people)."""
        given = (self.data("classify") or {}).get("tags") or []
        return list(dict.fromkeys([*given, *self.tags]))

    @property
    def entities(self) -> list[dict[str, Any]]:
        return list((self.data("entities") or {}).get("entities") or [])

    @property
    def sentiment(self) -> str | None:
        return (self.data("sentiment") or {}).get("label")

    @property
    def sentiment_score(self) -> float | None:
        return (self.data("sentiment") or {}).get("score")

    # -- the file --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The file's name as the file system has it (of a mail: its subject, with .eml)."""
        return self.file.name if self.file is not None else (self.doc.get("name") or "")

    @property
    def path(self) -> str:
        return str(self.file) if self.file is not None else (self.doc.get("path") or "")

    @property
    def shown_name(self) -> str:
        return display(self.name)

    @property
    def shown_path(self) -> str:
        return display(self.path)

    def variables(self, rule: str, now: datetime) -> dict[str, Any]:
        """The names a template may use (workflowd.rules.templates.VARIABLES)."""
        name = self.name
        ext = Path(name).suffix if name else ""
        stem = name[: len(name) - len(ext)] if ext else name
        by_type = _ByType()
        for e in self.entities:
            texts = by_type.setdefault(str(e.get("type")), [])
            if e.get("text") not in texts:
                texts.append(e.get("text"))
        doc = self.doc
        return {
            "id": doc["id"],
            "name": name,
            "stem": stem,
            "ext": ext,
            "title": doc.get("title") or stem,
            "path": self.path,
            "source": doc.get("source"),
            "media_type": doc.get("media_type"),
            "sha256": doc.get("sha256"),
            "size": doc.get("size"),
            "date": parse_time(doc.get("created_at")),
            "now": now,
            "label": self.label,
            "best_guess": self.best_guess,
            "confidence": self.confidence,
            "tags": self.all_tags,
            "entities": by_type,
            "sentiment": self.sentiment,
            "sentiment_score": self.sentiment_score,
            "summary": (self.data("summarize") or {}).get("summary"),
            "text": doc.get("text") or "",
            "results": {step: self.data(step) for step in self.results if self.data(step) is not None},
            "rule": rule,
        }

"""What extraction returns: the text of a file, its metadata and any attachments.

Both classes round-trip through plain dicts so that the sandboxed child can send them as JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Attachment", "Extraction"]


@dataclass
class Attachment:
    """One file carried inside a document (an e-mail attachment), saved as a blob."""

    name: str  # sanitised file name, never a path
    content_type: str  # as declared in the message, lower-case
    sha256: str
    size: int
    path: str  # absolute path of the content-addressed blob holding the bytes

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the fields."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Attachment:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            name=str(d["name"]),
            content_type=str(d["content_type"]),
            sha256=str(d["sha256"]),
            size=int(d["size"]),
            path=str(d["path"]),
        )


@dataclass
class Extraction:
    """The text extracted from one file, with its detected type and metadata."""

    media_type: str
    text: str
    title: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # JSON-serialisable
    attachments: list[Attachment] = field(default_factory=list)
    sha256: str = ""  # sha256 of the bytes that were read

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the fields (attachments as dicts)."""
        return {
            "media_type": self.media_type,
            "text": self.text,
            "title": self.title,
            "meta": dict(self.meta),
            "attachments": [a.to_dict() for a in self.attachments],
            "sha256": self.sha256,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Extraction:
        """Rebuild from :meth:`to_dict` output."""
        title = d.get("title")
        return cls(
            media_type=str(d["media_type"]),
            text=str(d["text"]),
            title=None if title is None else str(title),
            meta=dict(d.get("meta") or {}),
            attachments=[Attachment.from_dict(a) for a in d.get("attachments") or []],
            sha256=str(d.get("sha256") or ""),
        )

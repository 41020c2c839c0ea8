"""The JSON-lines protocol between SandboxedExtractor and its child, seen from the parent.

Responses are ``{"ok": true, "extraction": {...}}`` or ``{"ok": false, "kind": K, "message": M}``
with K one of ``extraction`` (bad input), ``memory``, ``os`` (with ``errno``, ``filename``),
``internal`` or ``protocol``; the child greets with ``{"ready": true, "pid": N}``.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import ContentChanged, ExtractionCrashed, ExtractionError
from .result import Extraction

__all__ = ["parse_line", "response_to_result"]


def parse_line(line: bytes) -> dict[str, Any] | None:
    """A JSON object from one protocol line, or None when the line is not one."""
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def response_to_result(
    response: dict[str, Any], expected_sha256: str | None, max_memory_mb: int
) -> Extraction:
    """Turn a response into an Extraction or raise the matching exception."""
    if response.get("ok"):
        try:
            extraction = Extraction.from_dict(response["extraction"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ExtractionError(f"extractor error: malformed result ({exc!r})") from None
        if expected_sha256 and extraction.sha256 != expected_sha256.lower():
            raise ContentChanged("the file changed after it was queued")
        return extraction
    kind, message = response.get("kind"), str(response.get("message") or "unknown error")
    if kind == "memory":
        raise ExtractionCrashed(
            f"extraction ran out of memory (limit {max_memory_mb} MB, extract.max_memory_mb)"
        )
    if kind == "os":
        raise OSError(response.get("errno") or 0, message, response.get("filename"))
    if kind == "extraction":
        raise ExtractionError(message)
    raise ExtractionError(f"extractor error: {message}")

"""Plain text and Markdown: decode whatever the encoding, refuse binary content."""

from __future__ import annotations

import re
from pathlib import Path

from ..config import ExtractSettings
from ..errors import ExtractionError
from .result import Extraction
from .sniff import MARKDOWN, PLAIN
from .textutil import decode_bytes, looks_binary, normalise_newlines

__all__ = ["extract_markdown", "extract_plain", "decode_text"]

_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode text bytes and normalise newlines; raise ExtractionError when it is not text."""
    text, encoding = decode_bytes(data)
    text = normalise_newlines(text.lstrip("\ufeff"))
    if looks_binary(text):
        raise ExtractionError("binary content, not text")
    return text, encoding


def extract_plain(data: bytes, settings: ExtractSettings, blob_dir: Path) -> Extraction:
    """A text file as it is, decoded."""
    text, encoding = decode_text(data)
    return Extraction(media_type=PLAIN, text=text, meta={"encoding": encoding})


def extract_markdown(data: bytes, settings: ExtractSettings, blob_dir: Path) -> Extraction:
    """A Markdown file as its source text; the first heading becomes the title."""
    text, encoding = decode_text(data)
    match = _ATX_HEADING.search(text[:20000])
    title = match.group(1).strip() if match else None
    return Extraction(media_type=MARKDOWN, text=text, title=title, meta={"encoding": encoding})

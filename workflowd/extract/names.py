"""Safe file names for attachments: names from mail are untrusted and may try to be paths."""

from __future__ import annotations

import unicodedata
from email.header import decode_header, make_header

from .textutil import clean_str

__all__ = ["safe_filename"]

MAX_NAME_BYTES = 255
_MAX_EXT_CHARS = 16


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """A plain file name from an untrusted one: no directories, no control characters, never empty."""
    if not name:
        return fallback
    text = clean_str(_decode_rfc2047(str(name)))
    text = text.replace("\\", "/").split("/")[-1]
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cs", "Zl", "Zp"))
    text = text.strip().lstrip(". ").rstrip(" ")
    if not text or text.strip(".") == "":
        return fallback
    return _limit_bytes(text, MAX_NAME_BYTES)


def _decode_rfc2047(text: str) -> str:
    """Decode ``=?charset?Q?...?=`` words when present; leave the text alone otherwise."""
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:  # malformed encoded words: keep the raw text
        return text


def _limit_bytes(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` UTF-8 bytes, keeping a short extension at the end."""
    if len(text.encode("utf-8")) <= limit:
        return text
    stem, dot, ext = text.rpartition(".")
    if not dot or not stem or len(ext) > _MAX_EXT_CHARS:
        stem, ext = text, ""
    suffix = f".{ext}" if ext else ""
    room = limit - len(suffix.encode("utf-8"))
    cut = stem.encode("utf-8")[:room].decode("utf-8", "ignore")
    return cut + suffix

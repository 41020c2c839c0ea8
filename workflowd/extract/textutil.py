"""Shared text helpers: decoding bytes of unknown charset, cleaning strings, short error reasons."""

from __future__ import annotations

import codecs
import re
from typing import Any

__all__ = [
    "clean_str",
    "clean_value",
    "decode_bytes",
    "looks_binary",
    "normalise_newlines",
    "short_reason",
]

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Control characters that never appear in real text (tab, newlines, form feed, escape do).
_BAD_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_NEWLINES = re.compile(r"\r\n?|\u2028|\u2029|\x85")
_SURROGATE = re.compile("[\ud800-\udfff]")


def bom_encoding(data: bytes) -> str | None:
    """The encoding named by a byte-order mark at the start of ``data``, if any."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def utf16_without_bom(sample: bytes) -> str | None:
    """Guess UTF-16 text without a BOM from the zero bytes of mostly-ASCII content."""
    sample = sample[:4096]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode text of unknown charset; return ``(text, encoding)``. Never raises for bad bytes."""
    bom = bom_encoding(data)
    if bom:
        return data.decode(bom, "replace"), bom
    if declared:
        try:
            return data.decode(declared), codecs.lookup(declared).name
        except (LookupError, UnicodeError, ValueError):
            pass
    wide = utf16_without_bom(data)
    if wide:
        return data.decode(wide, "replace"), wide
    try:
        text = data.decode("utf-8")
        return text, "ascii" if text.isascii() else "utf-8"
    except UnicodeDecodeError:
        pass
    guess = _normalizer_guess(data)
    if guess:
        try:
            return data.decode(guess, "replace"), guess
        except LookupError:
            pass
    return data.decode("cp1252", "replace"), "cp1252"


def _normalizer_guess(data: bytes) -> str | None:
    """charset-normalizer's best guess of the encoding, or None; cp1252 wins ties.

    On short Western text the detector often ranks cp1250 first with the same score as
    cp1252 (or with identical output); cp1252 is by far the likelier of the two in practice.
    """
    from charset_normalizer import from_bytes

    results = from_bytes(data)
    best = results.best()
    if best is None:
        return None
    if "cp1252" in best.could_be_from_charset:
        return "cp1252"
    for match in results:
        if match.encoding == "cp1252" and match.chaos <= best.chaos + 0.01:
            return "cp1252"
    return best.encoding


def looks_binary(text: str) -> bool:
    """True when decoded text is mostly control characters or replacement marks (not prose)."""
    sample = text[:65536]
    if not sample:
        return False
    bad = len(_BAD_CONTROL.findall(sample)) + sample.count("\ufffd")
    return bad > max(8, 0.05 * len(sample))


def normalise_newlines(text: str) -> str:
    """Every line ending (CRLF, CR, Unicode separators) becomes ``\\n``."""
    return _NEWLINES.sub("\n", text)


def clean_str(text: str) -> str:
    """A string safe to store: lone surrogates repaired or replaced, NUL characters removed."""
    if _SURROGATE.search(text):
        try:
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeError:
            text = text.encode("utf-8", "replace").decode("utf-8")
    return text.replace("\x00", "")


def clean_value(value: Any) -> Any:
    """Make ``value`` JSON-serialisable with clean strings (dicts, lists, scalars; others as str)."""
    if isinstance(value, str):
        return clean_str(value)
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, dict):
        return {clean_str(str(k)): clean_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_value(v) for v in value]
    return clean_str(str(value))


def short_reason(exc: BaseException, limit: int = 200) -> str:
    """One readable line describing ``exc`` (its message, else its class name)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = clean_str(lines[0]) if lines else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""File names as the file system has them (bytes) and as a person reads them.

A POSIX file name is any bytes but ``/`` and NUL: not always UTF-8 (a Samba share, an old
archive), sometimes with a newline or an escape sequence in it. Python hands such a name over
as a str holding lone surrogates (PEP 383), which SQLite, JSON and a UTF-8 log refuse, and a
newline in a log line or a terminal escape in ``list`` misleads whoever reads them.

So workflowd keeps two forms of a path. ``display(path)`` is valid UTF-8 with every byte that
is not UTF-8 written ``\\xff`` and every control character ``\\n``, ``\\x1b``...: it is what the
store's ``path`` and ``name`` hold and what logs and the CLI show. ``raw(path)`` is the exact
bytes, kept beside it only where the display form differs; ``fs_path`` turns the stored pair
back into the path the file system knows.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["clean_text", "display", "fs_path", "raw"]

# C0 and C1 controls, DEL, line/paragraph separators, bidi overrides and isolates
# (which can make a name read as something else: "invoice\u202etxt.exe").
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

PathLike = str | bytes | os.PathLike


def _escape(match: re.Match[str]) -> str:
    c = match.group()
    if c in _NAMED:
        return _NAMED[c]
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def display(path: PathLike) -> str:
    """The path as a person reads it: valid UTF-8, one line, with odd bytes escaped."""
    if isinstance(path, str) and path.isascii() and path.isprintable():
        return path  # the usual case, at no cost
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return _UNSAFE.sub(_escape, text)


def raw(path: PathLike) -> bytes | None:
    """The path's exact bytes where they differ from ``display(path)`` encoded, else None."""
    data = os.fsencode(path)
    return None if display(path).encode("utf-8") == data else data


def fs_path(display_path: str, raw_path: bytes | None) -> Path:
    """The path the file system knows, from what the store holds (``path``, ``path_raw``)."""
    return Path(os.fsdecode(raw_path)) if raw_path is not None else Path(display_path)


def clean_text(text: str) -> str:
    """``text`` with any lone surrogate (an undecodable byte of a file name) escaped: safe for
    SQLite, JSON and a UTF-8 log. Messages keep their line breaks; names use ``display``."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")

"""Which files in a watched folder are taken."""

from __future__ import annotations

from pathlib import PurePosixPath

# Files still being written or belonging to other programs, never taken.
PARTIAL_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".swp", ".swx", "~")
PRIVATE_PREFIXES = (".", "~$")


def is_ignored_name(name: str) -> bool:
    """Dot-files, Office lock files (``~$x.docx``) and partial downloads."""
    return name.startswith(PRIVATE_PREFIXES) or name.lower().endswith(PARTIAL_SUFFIXES)


def wanted(relative: PurePosixPath, include: list[str], exclude: list[str]) -> bool:
    """Whether a file at this path (relative to the watched folder) should be taken.

    Patterns match from the right, like ``PurePath.match``: ``*.pdf`` matches a PDF at any
    depth, ``invoices/*.pdf`` one directly inside any ``invoices`` folder. Anything inside a
    dot-folder is ignored too.
    """
    if any(is_ignored_name(part) for part in relative.parts):
        return False
    if include and not any(relative.match(p) for p in include):
        return False
    return not any(relative.match(p) for p in exclude)

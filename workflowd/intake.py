"""Taking a file: hash it, then record it and queue it in one transaction."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from .config import Settings
from .errors import ExtractionError
from .extract import detect_media_type
from .extract.core import check_size
from .store import FoundFile, Store

CHUNK = 1 << 20
HEAD = 8192


class FileChanged(Exception):
    """The file changed while it was being read; take it again once it settles."""


def hash_file(path: Path) -> tuple[str, int, bytes]:
    """sha256, size and the first bytes (for sniffing the type) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            if not head:
                head = chunk[:HEAD]
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size, head


def size_error(size: int, settings: Settings) -> str | None:
    """Why a file of this size is not processed at all (empty, too large), or None."""
    try:
        check_size(size, settings.extract)
    except ExtractionError as exc:
        return str(exc)
    return None


def take_file(store: Store, settings: Settings, path: Path, *, source: str, pipeline: str) -> tuple[int, bool]:
    """Record ``path`` as a document (or as another location of known content) and queue it.

    Returns ``(document id, created)``. Raises FileChanged if the file changed while it was
    hashed, and OSError if it cannot be read. The file itself is never modified.
    """
    before = os.stat(path)
    if not stat.S_ISREG(before.st_mode):
        raise OSError(f"not a regular file: {path}")
    sha256, size, head = hash_file(path)
    after = os.stat(path)
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or size != after.st_size:
        raise FileChanged(str(path))
    found = FoundFile(
        source=source,
        path=str(path),
        name=path.name,
        sha256=sha256,
        size=size,
        mtime_ns=after.st_mtime_ns,
        media_type=detect_media_type(head, path.name) if head else None,
    )
    return store.documents.add(
        found, pipeline=pipeline, max_attempts=settings.jobs.max_attempts, error=size_error(size, settings)
    )

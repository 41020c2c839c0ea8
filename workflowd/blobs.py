"""Content-addressed blob store: bytes saved once under ``<blob_dir>/<sha[:2]>/<sha>``.

Attachments and other derived bytes live here so that a document row only needs a hash.
Writes are atomic (temporary file in the same folder, then ``os.replace``), so a crash never
leaves a half-written blob under its final name.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["blob_path", "write_blob"]


def blob_path(blob_dir: Path, sha: str) -> Path:
    """Where the blob with this sha256 (lower-case hex) lives."""
    sha = sha.lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ValueError(f"not a sha256 hex digest: {sha!r}")
    return Path(blob_dir) / sha[:2] / sha


def write_blob(blob_dir: Path, data: bytes) -> tuple[str, Path]:
    """Store ``data`` content-addressed and return ``(sha256, path)``; an existing blob is kept."""
    sha = hashlib.sha256(data).hexdigest()
    path = blob_path(blob_dir, sha)
    if path.exists():
        return sha, path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return sha, path

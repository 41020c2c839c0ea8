"""The content-addressed blob store (workflowd/blobs.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from workflowd.blobs import blob_path, write_blob


def test_write_blob_is_content_addressed(tmp_path: Path) -> None:
    sha, path = write_blob(tmp_path, b"hello")
    assert sha == hashlib.sha256(b"hello").hexdigest()
    assert path == tmp_path / sha[:2] / sha == blob_path(tmp_path, sha)
    assert path.read_bytes() == b"hello"
    assert [p.name for p in path.parent.iterdir()] == [sha]  # no temporary file left behind


def test_existing_blob_is_kept(tmp_path: Path) -> None:
    sha, path = write_blob(tmp_path, b"same")
    mtime = path.stat().st_mtime_ns
    assert write_blob(tmp_path, b"same") == (sha, path)
    assert path.stat().st_mtime_ns == mtime


def test_empty_blob(tmp_path: Path) -> None:
    sha, path = write_blob(tmp_path, b"")
    assert path.read_bytes() == b""
    assert sha == hashlib.sha256(b"").hexdigest()


def test_blob_path_rejects_non_hashes(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        blob_path(tmp_path, "../../etc/passwd")

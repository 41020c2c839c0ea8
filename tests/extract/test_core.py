"""extract_file: size checks, unsupported types, missing files, the result's round trip."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from workflowd.config import ExtractSettings
from workflowd.errors import ExtractionError
from workflowd.extract import Attachment, Extraction, extract_file


def sparse_file(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no disk space (size checks must not read it)."""
    with path.open("wb") as fh:
        fh.truncate(size)
    return path


def test_file_over_the_size_limit(tmp_path: Path, settings: ExtractSettings, blob_dir: Path) -> None:
    big = sparse_file(tmp_path / "huge.txt", int(212.4 * 1024 * 1024))
    with pytest.raises(ExtractionError) as info:
        extract_file(big, settings, blob_dir)
    assert str(info.value) == "file is 212.4 MB, over the limit of 100 MB (extract.max_file_mb)"


def test_empty_file(write, settings: ExtractSettings, blob_dir: Path) -> None:
    with pytest.raises(ExtractionError, match=r"^empty file \(0 bytes\)$"):
        extract_file(write("empty.pdf", b""), settings, blob_dir)


def test_missing_file_is_an_os_error_not_bad_input(tmp_path: Path, settings, blob_dir) -> None:
    with pytest.raises(FileNotFoundError):
        extract_file(tmp_path / "gone.txt", settings, blob_dir)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (bytes(range(256)) * 8, "unsupported file type: application/octet-stream (binary)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "unsupported file type: application/msword"),
    ],
)
def test_unsupported_types(write, settings, blob_dir, data: bytes, message: str) -> None:
    with pytest.raises(ExtractionError) as info:
        extract_file(write("file.doc", data), settings, blob_dir)
    assert str(info.value).startswith(message)


def test_sha256_of_the_bytes_read(write, settings, blob_dir) -> None:
    result = extract_file(write("a.txt", b"some text"), settings, blob_dir)
    assert result.sha256 == hashlib.sha256(b"some text").hexdigest()


def test_round_trip_through_json() -> None:
    original = Extraction(
        media_type="message/rfc822",
        text="hello",
        title="Hi",
        meta={"subject": "Hi", "truncated": True, "original_chars": 9},
        attachments=[Attachment(name="a.pdf", content_type="application/pdf", sha256="0" * 64, size=3,
                                path="/blobs/00/" + "0" * 64)],
        sha256="f" * 64,
    )
    assert Extraction.from_dict(json.loads(json.dumps(original.to_dict()))) == original
    assert Extraction.from_dict(Extraction(media_type="text/plain", text="").to_dict()).title is None

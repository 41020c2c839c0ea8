"""Responses of the child turned into results and exceptions."""

from __future__ import annotations

import errno

import pytest

from workflowd.errors import ContentChanged, ExtractionCrashed, ExtractionError
from workflowd.extract import Extraction
from workflowd.extract.protocol import parse_line, response_to_result


def test_parse_line() -> None:
    assert parse_line(b'{"ready": true}') == {"ready": True}
    assert parse_line(b"some library chatter") is None
    assert parse_line(b"[1, 2]") is None


def test_ok_response() -> None:
    extraction = Extraction(media_type="text/plain", text="hi", sha256="ab" * 32)
    response = {"ok": True, "extraction": extraction.to_dict()}
    assert response_to_result(response, None, 2048) == extraction
    assert response_to_result(response, "AB" * 32, 2048) == extraction
    with pytest.raises(ContentChanged, match="changed after it was queued"):
        response_to_result(response, "cd" * 32, 2048)


@pytest.mark.parametrize(
    ("response", "exc_type", "message"),
    [
        ({"ok": False, "kind": "extraction", "message": "damaged PDF: x"}, ExtractionError, "damaged PDF: x"),
        ({"ok": False, "kind": "memory", "message": "m"}, ExtractionCrashed,
         "extraction ran out of memory (limit 512 MB, extract.max_memory_mb)"),
        ({"ok": False, "kind": "internal", "message": "TypeError: boom"}, ExtractionError,
         "extractor error: TypeError: boom"),
        ({"ok": True, "extraction": {"text": "no type"}}, ExtractionError,
         "extractor error: malformed result"),
    ],
)
def test_error_responses(response: dict, exc_type: type[Exception], message: str) -> None:
    with pytest.raises(exc_type) as info:
        response_to_result(response, None, 512)
    assert str(info.value).startswith(message)
    if exc_type is ExtractionError:
        assert not isinstance(info.value, ExtractionCrashed)


def test_os_errors_keep_their_type() -> None:
    response = {"ok": False, "kind": "os", "errno": errno.ENOENT, "message": "No such file", "filename": "/x"}
    with pytest.raises(FileNotFoundError) as info:
        response_to_result(response, None, 512)
    assert info.value.filename == "/x"

"""Plain text and Markdown in any encoding."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflowd.config import ExtractSettings
from workflowd.errors import ExtractionError
from workflowd.extract import extract_file


def test_utf8(write, settings: ExtractSettings, blob_dir: Path) -> None:
    result = extract_file(write("a.txt", "Grüße aus Köln\r\nline two\rline three\n"), settings, blob_dir)
    assert result.media_type == "text/plain"
    assert result.text == "Grüße aus Köln\nline two\nline three\n"
    assert result.meta["encoding"] == "utf-8"
    assert result.title is None


def test_latin1(write, settings: ExtractSettings, blob_dir: Path) -> None:
    text = "Le cœur a ses raisons que la raison ne connaît point. Où est la café? " * 3
    result = extract_file(write("a.txt", text.encode("cp1252")), settings, blob_dir)
    assert result.text == text
    assert result.meta["encoding"] != "utf-8"


def test_utf16_with_bom(write, settings: ExtractSettings, blob_dir: Path) -> None:
    result = extract_file(write("a.txt", "Привет, мир\r\n".encode("utf-16")), settings, blob_dir)
    assert result.text == "Привет, мир\n"
    assert result.meta["encoding"] == "utf-16"


def test_utf8_bom_is_dropped(write, settings: ExtractSettings, blob_dir: Path) -> None:
    result = extract_file(write("a.txt", b"\xef\xbb\xbfhello"), settings, blob_dir)
    assert result.text == "hello"


def test_utf16_without_bom(write, settings: ExtractSettings, blob_dir: Path) -> None:
    data = "plain ascii words in utf-16".encode("utf-16-le")
    result = extract_file(write("a.txt", data), settings, blob_dir)
    assert result.text == "plain ascii words in utf-16"


def test_markdown_title_from_first_heading(write, settings: ExtractSettings, blob_dir: Path) -> None:
    result = extract_file(write("notes.md", "intro\n\n## Plans for *May* ##\n\n- one\n"), settings, blob_dir)
    assert result.media_type == "text/markdown"
    assert result.title == "Plans for *May*"
    assert "- one" in result.text


def test_binary_content_is_refused(write, settings: ExtractSettings, blob_dir: Path) -> None:
    data = ("words " * 20).encode() + bytes(range(1, 9)) * 40
    with pytest.raises(ExtractionError, match="binary content, not text"):
        extract_file(write("a.txt", data), settings, blob_dir)


def test_long_text_is_truncated(write, blob_dir: Path) -> None:
    settings = ExtractSettings(max_text_chars=1000)
    result = extract_file(write("a.txt", "x" * 5000), settings, blob_dir)
    assert len(result.text) == 1000
    assert result.meta["truncated"] is True
    assert result.meta["original_chars"] == 5000

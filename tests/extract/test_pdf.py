"""PDF text layers, encryption, scans and damage."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from workflowd.config import ExtractSettings
from workflowd.errors import ExtractionError
from workflowd.extract import extract_file

from .conftest import make_pdf, shared_path


def _encrypted(data: bytes, user_password: str) -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def test_text_of_every_page(write, settings: ExtractSettings, blob_dir: Path) -> None:
    pdf = make_pdf(["First page text", "", "Third page text"], title="Minutes", compress=True)
    result = extract_file(write("minutes.txt", pdf), settings, blob_dir)
    assert result.media_type == "application/pdf"
    assert "First page text" in result.text and "Third page text" in result.text
    assert result.title == "Minutes"
    assert result.meta["pages"] == 3 and result.meta["pages_read"] == 3
    assert result.meta["author"] == "Test Author"


def test_page_limit(write, blob_dir: Path) -> None:
    settings = ExtractSettings(max_pdf_pages=2)
    result = extract_file(write("a.pdf", make_pdf(["one", "two", "three"])), settings, blob_dir)
    assert result.meta["pages"] == 3 and result.meta["pages_read"] == 2
    assert "three" not in result.text


def test_no_text_layer(write, settings: ExtractSettings, blob_dir: Path) -> None:
    with pytest.raises(ExtractionError, match=r"no text layer, and no scanned image to OCR"):
        extract_file(write("scan.pdf", make_pdf(["", ""])), settings, blob_dir)


def test_encrypted_with_empty_user_password_opens(write, settings: ExtractSettings, blob_dir: Path) -> None:
    data = _encrypted(make_pdf(["readable anyway"]), user_password="")
    assert "readable anyway" in extract_file(write("a.pdf", data), settings, blob_dir).text


def test_encrypted_with_a_password(write, settings: ExtractSettings, blob_dir: Path) -> None:
    data = _encrypted(make_pdf(["secret"]), user_password="hunter2")
    with pytest.raises(ExtractionError, match=r"^encrypted PDF: a password is needed to read it$"):
        extract_file(write("a.pdf", data), settings, blob_dir)


@pytest.mark.parametrize("cut", [20, 200, 400])
def test_truncated_pdf_is_damaged(write, settings: ExtractSettings, blob_dir: Path, cut: int) -> None:
    data = make_pdf(["some words here"])[:cut]
    with pytest.raises(ExtractionError) as info:
        extract_file(write("a.pdf", data), settings, blob_dir)
    message = str(info.value)
    assert message.startswith(("damaged PDF: ", "the PDF has no text layer"))
    assert "\n" not in message and len(message) < 300


def test_shared_samples(settings: ExtractSettings, blob_dir: Path) -> None:
    root = shared_path("pdfs", "py-pdf-sample-files")
    four = extract_file(root / "004-pdflatex-4-pages" / "pdflatex-4-pages.pdf", settings, blob_dir)
    assert four.meta["pages"] == 4
    assert len(four.text) > 100
    with pytest.raises(ExtractionError, match="password is needed"):
        extract_file(next((root / "005-libreoffice-writer-password").glob("*.pdf")), settings, blob_dir)


def test_shared_malformed_files_fail_cleanly(settings: ExtractSettings, blob_dir: Path) -> None:
    for path in sorted(shared_path("pdfs", "qpdf-malformed").glob("bad*.pdf"))[:15]:
        try:
            extract_file(path, settings, blob_dir)
        except ExtractionError as exc:
            assert "\n" not in str(exc) and len(str(exc)) < 300, path

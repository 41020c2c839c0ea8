"""DOCX (built here with python-docx) and ODT."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest

from workflowd.config import ExtractSettings
from workflowd.errors import ExtractionError
from workflowd.extract import extract_file
from workflowd.extract.sniff import DOCX, ODT

from .conftest import shared_path


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.core_properties.title = "Tenancy agreement"
    document.add_heading("Agreement", level=1)
    document.add_paragraph("The tenant pays on the first day.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Rent", "900 EUR"
    table.cell(1, 0).text, table.cell(1, 1).text = "Deposit", "2700 EUR"
    merged = document.add_table(rows=1, cols=3)
    merged.cell(0, 0).merge(merged.cell(0, 1)).text = "wide"
    merged.cell(0, 2).text = "narrow"
    document.add_paragraph("Signed in Berlin.")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def test_docx_paragraphs_and_tables_in_order(write, settings: ExtractSettings, blob_dir: Path) -> None:
    result = extract_file(write("contract.bin", _docx_bytes()), settings, blob_dir)
    assert result.media_type == DOCX
    assert result.title == "Tenancy agreement"
    assert result.text.split("\n") == [
        "Agreement",
        "The tenant pays on the first day.",
        "Rent\t900 EUR",
        "Deposit\t2700 EUR",
        "wide\tnarrow",
        "Signed in Berlin.",
    ]


def test_broken_docx(write, settings: ExtractSettings, blob_dir: Path) -> None:
    data = _docx_bytes()
    with pytest.raises(ExtractionError, match=r"^damaged DOCX: "):
        extract_file(write("cut.docx", data[: len(data) // 2]), settings, blob_dir)


def test_docx_without_document_part(write, settings: ExtractSettings, blob_dir: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "not xml at all")
    with pytest.raises(ExtractionError, match=r"^damaged DOCX: "):
        extract_file(write("x.docx", buf.getvalue()), settings, blob_dir)


def test_odt_from_shared_data(settings: ExtractSettings, blob_dir: Path) -> None:
    path = shared_path("pdfs", "py-pdf-sample-files", "002-trivial-libre-office-writer", "source.odt")
    result = extract_file(path, settings, blob_dir)
    assert result.media_type == ODT
    assert result.text.startswith("Lorem ipsum dolor sit amet")


def test_odt_built_here(write, settings: ExtractSettings, blob_dir: Path) -> None:
    ns = 'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" ' \
         'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"'
    content = (f'<office:document-content {ns}><office:body><office:text>'
               '<text:h>Heading</text:h><text:p>one<text:s text:c="2"/>two<text:tab/>three</text:p>'
               '</office:text></office:body></office:document-content>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODT)
        archive.writestr("content.xml", content)
    result = extract_file(write("notes.odt", buf.getvalue()), settings, blob_dir)
    assert result.text == "Heading\none  two\tthree"


def test_other_zip_is_unsupported(write, settings: ExtractSettings, blob_dir: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("a.txt", "x")
    with pytest.raises(ExtractionError, match=r"^unsupported file type: application/zip \(a zip archive\)$"):
        extract_file(write("fake.docx", buf.getvalue()), settings, blob_dir)

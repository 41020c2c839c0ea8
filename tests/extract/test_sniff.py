"""Type detection by content: misleading names must not fool it."""

from __future__ import annotations

import io
import zipfile

import pytest

from workflowd.extract import detect_media_type
from workflowd.extract.sniff import DOCX, ODT

from .conftest import make_pdf

MAIL_TYPE = "message/rfc822"
MAIL = b"From: a@example.com\nTo: b@example.com\nSubject: hi\n\nbody\n"


def _zip(names: list[str], first: tuple[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        if first:
            archive.writestr(zipfile.ZipInfo(first[0]), first[1])
        for name in names:
            archive.writestr(name, b"<x/>")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (make_pdf(["x"]), "notes.txt", "application/pdf"),
        (b"junk before the header " * 10 + make_pdf(["x"]), "a.bin", "application/pdf"),
        (b"1 0 obj << >> endobj trailer << /Root 1 0 R >>", "broken.pdf", "application/pdf"),
        (MAIL, "notes.txt", "message/rfc822"),
        (b"From someone@example.com Thu Aug 22 13:27:39 2002\nReturn-Path: <x@y>\n\nhi", "x", MAIL_TYPE),
        (b"Received: from x\n\tby y\nDelivered-To: me\nSubject: s\n\nbody", "mail", "message/rfc822"),
        (b"just some words\n", "message.eml", "message/rfc822"),
        (b"Subject: only one known header\n\nbody", "a.txt", "text/plain"),
        (b"From here on, things are plain.\nSecond line.\n", "a.txt", "text/plain"),
        (b"<!DOCTYPE html><html><body>x</body></html>", "page.txt", "text/html"),
        (b"\xef\xbb\xbf  <!-- c -->\n<HTML><p>x", "x.dat", "text/html"),
        (b"<body>hello</body>", "noext", "text/html"),
        (b"<p>fragment</p>", "page.htm", "text/html"),
        (b"<p>fragment</p>", "page.txt", "text/plain"),
        (b"# Title\n\ntext", "README.md", "text/markdown"),
        (b"# Title\n\ntext", "README", "text/plain"),
        ("caf\u00e9 latin".encode("latin-1"), "a.txt", "text/plain"),
        ("\ufeffhello utf-16".encode("utf-16"), "a.txt", "text/plain"),
        (_zip(["[Content_Types].xml", "word/document.xml"]), "letter.zip", DOCX),
        (_zip(["content.xml"], ("mimetype", ODT.encode())), "a.bin", ODT),
        (_zip(["a.txt", "b.txt"]), "archive.docx", "application/zip"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.doc", "application/msword"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "scan.pdf", "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 50, "photo.txt", "image/jpeg"),
        (b"\xff\xd8\xff\xe1\x22\x45Exif\x00\x00MM\x00*\x00\x00\x00\x08" + b"\x01\x12" * 20, "IMG_1.JPG", "image/jpeg"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "IMG_2.HEIC", "image/heic"),
        (bytes(range(256)) * 4, "data.txt", "application/octet-stream"),
    ],
)
def test_detect_media_type(head: bytes, name: str, expected: str) -> None:
    assert detect_media_type(head, name) == expected


def test_docx_member_found_in_a_truncated_head() -> None:
    data = _zip(["[Content_Types].xml", "word/document.xml"])
    assert detect_media_type(data[:200], "x") == DOCX

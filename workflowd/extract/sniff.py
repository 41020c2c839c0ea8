"""Media-type detection from a file's bytes first and its name second (names lie)."""

from __future__ import annotations

import io
import re
import zipfile

from .textutil import bom_encoding, utf16_without_bom

__all__ = ["DOCX", "ODT", "detect_media_type", "describe_type"]

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
HTML = "text/html"
MAIL = "message/rfc822"
MARKDOWN = "text/markdown"
PLAIN = "text/plain"
BINARY = "application/octet-stream"

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"BM", "image/bmp"),
    (b"\x1f\x8b", "application/gzip"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
    (b"Rar!\x1a\x07", "application/vnd.rar"),
    (b"BZh", "application/x-bzip2"),
    (b"\xfd7zXZ\x00", "application/x-xz"),
    (b"\x7fELF", "application/x-executable"),
    (b"{\\rtf", "application/rtf"),
)
_HEIF_BRANDS = frozenset((b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"))
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_BY_EXT = {"doc": "application/msword", "xls": "application/vnd.ms-excel",
               "ppt": "application/vnd.ms-powerpoint", "msg": "application/vnd.ms-outlook"}
_ZIP_PREFIXES = (
    (b"word/", DOCX),
    (b"xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    (b"ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)
_DESCRIPTIONS = {
    "application/zip": "a zip archive",
    "application/msword": "a legacy Word .doc file; save it as .docx or PDF",
    "application/x-ole-storage": "a legacy Microsoft Office file",
    BINARY: "binary",
}

_PDF_TOKENS = re.compile(rb"%PDF|\d+\s+\d+\s+obj\b|\btrailer\b|\bstartxref\b")
_HTML_START = re.compile(
    r"\A(?:\s|<!--.*?-->|<\?xml[^>]*>)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_HAS_TAG = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9]*)(?:\s[^<>]*)?/?>")
_HEADER_LINE = re.compile(r"^([!-9;-~]+):")
_KNOWN_HEADERS = frozenset(
    "from to cc subject date message-id received return-path mime-version content-type "
    "delivered-to reply-to sender in-reply-to references x-mailer".split()
)


def detect_media_type(head: bytes, name: str) -> str:
    """The media type of a file from its first bytes (or all of them) and, as a hint, its name."""
    ext = name.rpartition(".")[2].lower() if "." in name else ""
    if b"%PDF-" in head[:1024] or (ext == "pdf" and _PDF_TOKENS.search(head[:65536])):
        return PDF  # a .pdf with PDF syntax but a damaged header is still a (damaged) PDF
    if head.startswith(b"PK\x03\x04"):
        return _zip_type(head)
    if head.startswith(_OLE):
        return _OLE_BY_EXT.get(ext, "application/x-ole-storage")
    if head[:12].startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "image/heic"
    if head[:3] == b"\xff\xd8\xff" and head[3:4] >= b"\xc0":  # a JPEG's first marker (EXIF, JFIF...):
        return "image/jpeg"  # never text, even where the bytes would pass for UTF-16
    for magic, media_type in _MAGIC:
        if head.startswith(magic) and not (len(magic) < 4 and _is_text(head)):
            return media_type
    if not _is_text(head):
        return BINARY
    sample = _text_sample(head)
    if _HTML_START.match(sample):
        return HTML
    if _looks_like_mail(sample) or ext in ("eml", "mbox"):
        return MAIL
    if ext in ("html", "htm", "xhtml", "shtml") and _HAS_TAG.search(sample):
        return HTML
    if ext in ("md", "markdown", "mdown", "mkd"):
        return MARKDOWN
    return PLAIN


def describe_type(media_type: str) -> str:
    """A few words saying what an unsupported type is, for error messages."""
    if media_type.startswith("image/"):
        return "an image of a type OCR does not read"
    return _DESCRIPTIONS.get(media_type, "not a supported document format")


def _zip_type(head: bytes) -> str:
    """Tell DOCX, ODF and other zips apart by the member names."""
    if head[30:38] == b"mimetype":
        end = head.find(b"PK", 38)
        declared = head[38 : end if end > 0 else 38 + 80].decode("ascii", "replace").strip()
        if declared.startswith("application/vnd.oasis.opendocument."):
            return declared
    try:
        names = [n.encode("utf-8", "replace") for n in zipfile.ZipFile(io.BytesIO(head)).namelist()]
    except Exception:  # truncated head or damaged archive: look at the raw local headers
        names = []
    if b"word/document.xml" in names or (not names and b"word/document.xml" in head):
        return DOCX
    for prefix, media_type in _ZIP_PREFIXES[1:]:
        if any(n.startswith(prefix) for n in names):
            return media_type
    return "application/zip"


def _is_text(head: bytes) -> bool:
    """Whether the bytes read as text: a BOM, UTF-8 or UTF-16 without NULs elsewhere, few controls."""
    sample = head[:65536]
    if bom_encoding(sample) or utf16_without_bom(sample):
        return True
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 4 and exc.reason.startswith("unexpected end"):
            return True  # a multi-byte character cut by the sample
    controls = sum(sample.count(bytes([b])) for b in (*range(0, 8), 0x0E, 0x0F, *range(0x10, 0x1B)))
    return controls <= max(4, len(sample) // 100)


def _text_sample(head: bytes) -> str:
    """The first few KB as text, good enough for looking at markup and header lines."""
    sample = head[:8192]
    encoding = bom_encoding(sample) or utf16_without_bom(sample)
    if encoding:
        return sample.decode(encoding, "replace").lstrip("\ufeff")
    return sample.decode("utf-8", "replace")


def _looks_like_mail(sample: str, need: int = 2) -> bool:
    """An RFC 822 header block at the start: two known headers, or an mbox ``From`` line and one."""
    if need == 2 and sample.startswith("From ") and "\n" in sample[:1000]:
        return _looks_like_mail(sample.split("\n", 1)[1], need=1)
    known = 0
    for line in sample.splitlines()[:200]:
        if not line.strip():
            break
        if line[0] in " \t":
            continue  # a folded continuation line
        match = _HEADER_LINE.match(line)
        if not match:
            return False
        known += match.group(1).lower() in _KNOWN_HEADERS
    return known >= need

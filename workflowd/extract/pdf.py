"""PDF text layers through pypdf, with every parser failure turned into a short reason."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ..config import ExtractSettings
from ..errors import ExtractionError
from .result import Extraction
from .sniff import PDF
from .textutil import short_reason

__all__ = ["extract_pdf"]

_METADATA_KEYS = {"/Author": "author", "/Title": "title", "/Producer": "producer"}


def extract_pdf(data: bytes, settings: ExtractSettings, blob_dir: Path) -> Extraction:
    """The text layer of up to ``max_pdf_pages`` pages; scans without text fail clearly."""
    reader = _open(data)
    try:
        total = len(reader.pages)
    except MemoryError:
        raise
    except Exception as exc:
        raise ExtractionError(f"damaged PDF: {short_reason(exc)}") from None
    if total == 0:
        raise ExtractionError("damaged PDF: no pages found")
    texts: list[str] = []
    errors: list[str] = []
    for number in range(min(total, settings.max_pdf_pages)):
        try:
            texts.append(reader.pages[number].extract_text() or "")
        except MemoryError:
            raise
        except Exception as exc:  # one bad page should not lose the others
            errors.append(short_reason(exc))
    if errors and not texts:
        raise ExtractionError(f"damaged PDF: {errors[0]}")
    if not any(t.strip() for t in texts):
        raise ExtractionError("the PDF has no text layer (a scan?); OCR is not supported")
    meta: dict[str, Any] = {"pages": total, "pages_read": len(texts) + len(errors)}
    if errors:
        meta["page_errors"] = len(errors)
    meta.update(_metadata(reader))
    text = "\n\n".join(t.strip("\n") for t in texts if t.strip())
    return Extraction(media_type=PDF, text=text, title=meta.get("title"), meta=meta)


def _open(data: bytes) -> Any:
    """A PdfReader for ``data``, decrypted with the empty password when needed."""
    from pypdf import PasswordType, PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
    except MemoryError:
        raise
    except Exception as exc:
        raise ExtractionError(f"damaged PDF: {short_reason(exc)}") from None
    try:
        encrypted = reader.is_encrypted
    except MemoryError:
        raise
    except Exception as exc:
        raise ExtractionError(f"damaged PDF: {short_reason(exc)}") from None
    if encrypted:
        try:
            result = reader.decrypt("")
        except MemoryError:
            raise
        except Exception as exc:  # unsupported algorithm, missing crypto, broken dictionary
            raise ExtractionError(f"encrypted PDF that cannot be opened: {short_reason(exc)}") from None
        if result == PasswordType.NOT_DECRYPTED:
            raise ExtractionError("encrypted PDF: a password is needed to read it")
    return reader


def _metadata(reader: Any) -> dict[str, str]:
    """Author, title and producer where they can be read; never fails the extraction."""
    out: dict[str, str] = {}
    try:
        info = reader.metadata or {}
        for key, name in _METADATA_KEYS.items():
            try:
                value = info.get(key)
                text = str(value).strip() if value is not None else ""
            except Exception:
                continue
            if text:
                out[name] = text[:1000]
    except MemoryError:
        raise
    except Exception:
        pass
    return out

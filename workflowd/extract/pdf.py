"""PDF text layers through pypdf, with every parser failure turned into a short reason; pages
without a text layer drawn by PDFium (pypdfium2) and read by OCR."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ..config import ExtractSettings
from ..errors import ExtractionError
from .ocr import OcrJob, PageText, join_pages
from .result import Extraction
from .sniff import PDF
from .textutil import short_reason

__all__ = ["extract_pdf"]

_METADATA_KEYS = {"/Author": "author", "/Title": "title", "/Producer": "producer"}


def extract_pdf(data: bytes, settings: ExtractSettings, blob_dir: Path, ocr: OcrJob | None = None) -> Extraction:
    """The text layer of up to ``max_pdf_pages`` pages; pages without one (scans) read by OCR."""
    reader = _open(data)
    try:
        total = len(reader.pages)
    except MemoryError:
        raise
    except Exception as exc:
        raise ExtractionError(f"damaged PDF: {short_reason(exc)}") from None
    if total == 0:
        raise ExtractionError("damaged PDF: no pages found")
    texts: list[str | None] = []  # None: the page could not be read
    errors: list[str] = []
    for number in range(min(total, settings.max_pdf_pages)):
        try:
            texts.append(reader.pages[number].extract_text() or "")
        except MemoryError:
            raise
        except Exception as exc:  # one bad page should not lose the others
            texts.append(None)
            errors.append(short_reason(exc))
    if errors and not any(t is not None for t in texts):
        raise ExtractionError(f"damaged PDF: {errors[0]}")
    minimum = ocr.settings.min_page_chars if ocr is not None else 1
    scanned = [i for i, t in enumerate(texts) if t is not None and len("".join(t.split())) < max(1, minimum)]
    meta: dict[str, Any] = {"pages": total, "pages_read": len(texts)}
    if errors:
        meta["page_errors"] = len(errors)
    meta.update(_metadata(reader))
    pages: dict[int, PageText] = {}
    if scanned:
        pages = _ocr_pages(data, scanned, ocr, meta, has_text=any(t and t.strip() for t in texts))
    parts = [(i + 1, pages[i].text if i in pages else (t or ""), pages.get(i)) for i, t in enumerate(texts)]
    text, spans = join_pages(parts)
    if ocr is not None and ocr.deadline is not None:
        meta["ocr"] = ocr.meta(spans)
    if not text.strip():
        if pages:
            raise ExtractionError(f"OCR found no text on the PDF's {len(pages)} page(s) without a text layer")
        raise ExtractionError("the PDF has no text layer, and no scanned image to OCR (blank or drawn pages?)")
    return Extraction(media_type=PDF, text=text, title=meta.get("title"), meta=meta)


def _ocr_pages(data: bytes, candidates: list[int], ocr: OcrJob | None, meta: dict[str, Any],
               has_text: bool) -> dict[int, PageText]:
    """OCR of the pages (0-based) with little or no text layer that draw an image (a scan).
    When OCR cannot run, a PDF with text elsewhere keeps that text and says in
    ``meta["ocr_skipped"]`` why the scanned pages are missing."""
    out: dict[int, PageText] = {}
    try:
        document = _render_source(data)
    except ExtractionError as exc:
        if not has_text:
            raise
        meta["ocr_skipped"] = f"{len(candidates)} page(s) with little or no text not read: {exc}"
        return out
    try:
        dpis = {i: _scan_dpi(document, i, ocr.settings.dpi if ocr else 300) for i in candidates}
        scanned = [i for i, dpi in dpis.items() if dpi is not None]
        if not scanned:
            return out
        try:
            if ocr is None:
                raise ExtractionError("OCR is not available here")
            ocr.start()
        except ExtractionError as exc:
            if not has_text:
                raise ExtractionError(f"the PDF has no text layer (a scan?): {exc}") from None
            meta["ocr_skipped"] = f"{len(scanned)} scanned page(s) not read: {exc}"
            return out
        failures: list[str] = []
        for index in scanned:
            if not ocr.may_continue(len(scanned)):
                break
            # at the scan's own resolution (150 dpi at least, ocr.dpi at most): drawing a 150 dpi
            # scan at 300 dpi took twice the time for the same text (benchmarks/ocr_bbc.py)
            dpi = round(min(ocr.settings.dpi, max(150, dpis[index] or 0)))
            try:
                image, scaled = _render(document, index, ocr, dpi)
                ocr.scaled |= scaled
                page = ocr.read(image, index + 1, None if scaled else dpi)
            except ExtractionError as exc:  # one page that cannot be drawn or read: the others still are
                failures.append(str(exc))
                continue
            if page is None:
                break
            out[index] = page
        if failures:
            if not out and not has_text:
                raise ExtractionError(failures[0])
            meta["ocr_page_errors"] = failures[:10]
    finally:
        document.close()
    return out


def _scan_dpi(document: Any, index: int, default: int) -> float | None:
    """The resolution of the largest image page ``index`` draws (a scan's), or None when it
    draws none: a page with little text and no image (a title page, a blank page) has nothing
    OCR could add. ``default`` when the page cannot be looked at."""
    import pypdfium2.raw as pdfium_c

    try:
        page = document[index]
        best: tuple[float, float] | None = None  # (area in points², pixels per inch)
        for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=4):
            left, bottom, right, top = obj.get_bounds()
            width_px, _ = obj.get_px_size()
            area = (right - left) * (top - bottom)
            if right - left > 1 and (best is None or area > best[0]):
                best = (area, width_px / ((right - left) / 72))
        page.close()
    except MemoryError:
        raise
    except Exception:
        return default  # cannot tell: let OCR look
    return None if best is None else best[1]


def _render_source(data: bytes) -> Any:
    """The PDF opened by PDFium, which draws pages for OCR."""
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data, password="")
    except MemoryError:
        raise
    except Exception as exc:
        raise ExtractionError(f"damaged PDF: its scanned pages cannot be drawn for OCR: {short_reason(exc)}") from None


def _render(document: Any, index: int, ocr: OcrJob, dpi: int) -> tuple[Any, bool]:
    """Page ``index`` as a greyscale image at ``dpi``, or smaller to stay within
    ``ocr.max_image_pixels``; and whether it was made smaller."""
    settings = ocr.settings
    try:
        page = document[index]
        width, height = page.get_size()  # points, 1/72 inch
        scale = dpi / 72
        scaled = width * height * scale * scale > settings.max_image_pixels
        if scaled:
            scale = (settings.max_image_pixels / max(1.0, width * height)) ** 0.5
        image = page.render(scale=scale, grayscale=True).to_pil()
        page.close()
    except MemoryError:
        raise
    except Exception as exc:
        raise ExtractionError(f"damaged PDF: page {index + 1} cannot be drawn for OCR: {short_reason(exc)}") from None
    return image, scaled


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

"""Optical character recognition with Tesseract, for images and PDF pages without text.

Tesseract runs as its own program (through pytesseract), a child of the extractor process,
so the sandbox's memory limit and time limit hold for it too. One Tesseract run per page
gives the words, their layout and their confidence: page segmentation mode 1 detects the
page's orientation (a page scanned upside down or sideways); a page tilted by more than half
a degree is straightened first (extract/deskew.py: Tesseract alone follows a few degrees and
reads nothing at 8°); both are measured in ``benchmarks/ocr_bbc.py``.

:class:`OcrJob` carries the settings and the time budget of one file across its pages.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import OcrSettings
from ..errors import ExtractionError
from .deskew import deskew
from .lighting import thresholding
from .textutil import short_reason

__all__ = ["OcrJob", "PageText", "check_tesseract", "join_pages", "ocr_page", "prepare_image"]


@dataclass
class PageText:
    """The OCR of one page: its text, the mean word confidence (0-100) and its word count."""

    number: int  # 1-based page (or frame) number in the file
    text: str
    confidence: float | None  # None when Tesseract found no words
    words: int
    skew: float = 0.0  # degrees the page was turned back by before OCR (extract/deskew.py)


@dataclass
class OcrJob:
    """The OCR of one file: settings, the time budget shared by its pages, the pages done.

    ``on_start`` is called once, before the first page: the sandbox's child tells its parent
    to allow ``settings.timeout`` more seconds for this file.
    """

    settings: OcrSettings
    on_start: Callable[[], None] = lambda: None
    deadline: float | None = None
    pages: list[PageText] = field(default_factory=list)
    stopped: str | None = None  # why OCR stopped before the last page, for the document's meta
    scaled: bool = False

    def start(self) -> None:
        """Start the clock (and tell the sandbox) before the first page."""
        if self.deadline is None:
            check_enabled(self.settings)
            self.on_start()
            self.deadline = time.monotonic() + self.settings.timeout

    def may_continue(self, total: int) -> bool:
        """Whether another page may be read; records why not when it may not."""
        if len(self.pages) >= self.settings.max_pages:
            self.stopped = (f"OCR stopped after {len(self.pages)} of {total} pages (ocr.max_pages = "
                            f"{self.settings.max_pages})")
            return False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.stopped = (f"OCR stopped after {len(self.pages)} of {total} pages: ocr.timeout "
                            f"({self.settings.timeout:g} s) reached")
            return False
        return True

    def read(self, image: Any, number: int, dpi: int | None) -> PageText | None:
        """OCR one page image; None (and ``stopped`` set) when the time budget ran out on it."""
        self.start()
        assert self.deadline is not None
        method = thresholding(image, self.settings.binarize)  # before the white corners of a turn
        skew = 0.0
        if self.settings.deskew:
            image, skew = deskew(image)
        left = max(1.0, self.deadline - time.monotonic())
        page = ocr_page(image, number, self.settings, dpi, left, method)
        if page is None:
            self.stopped = (f"OCR stopped at page {number}: ocr.timeout ({self.settings.timeout:g} s) reached")
            return None
        page.skew = skew
        self.pages.append(page)
        return page

    def meta(self, spans: list[dict[str, Any]]) -> dict[str, Any]:
        """What the document's meta records of its OCR (``meta["ocr"]``); ``spans``: where each
        OCRed page lies in the text (:func:`join_pages`)."""
        scored = [(p.confidence, p.words) for p in self.pages if p.confidence is not None and p.words]
        words = sum(w for _, w in scored)
        out: dict[str, Any] = {
            "engine": "tesseract",
            "languages": self.settings.languages,
            "pages_read": len(self.pages),
            "confidence": round(sum(c * w for c, w in scored) / words, 1) if words else None,
            "pages": spans,
        }
        if self.stopped:
            out["stopped"] = self.stopped
        if self.scaled:
            out["scaled_down"] = True
        return out


def check_enabled(settings: OcrSettings) -> None:
    """ExtractionError when OCR is off or Tesseract cannot run (the document's failure reason)."""
    if not settings.enabled:
        raise ExtractionError("OCR is off (ocr.enabled = false)")
    problem = check_tesseract(settings)
    if problem:
        raise ExtractionError(problem)


_FOUND: set[tuple[str, str]] = set()  # (program, languages) that passed: asked once per process
INSTALL_HINT = "install it with `apt install tesseract-ocr tesseract-ocr-eng` (or brew install tesseract), or set ocr.enabled = false"


def check_tesseract(settings: OcrSettings) -> str | None:
    """None when ``settings.tesseract`` runs and has every language of ``settings.languages``;
    else what is wrong, in words (for ``workflowd check``, the log and a document's failure).
    Only success is remembered: Tesseract installed while the daemon runs is found at the next
    file, so `workflowd retry` works without a restart."""
    key = (settings.tesseract, settings.languages)
    if key in _FOUND:
        return None
    problem = _check(settings)
    if problem is None:
        _FOUND.add(key)
    return problem


def _check(settings: OcrSettings) -> str | None:
    program = shutil.which(settings.tesseract)
    if program is None:
        return f"OCR needs Tesseract, and {settings.tesseract!r} was not found: {INSTALL_HINT}"
    try:
        listed = subprocess.run([program, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"Tesseract ({program}) does not run: {exc}"
    have = {line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()}
    missing = [lang for lang in settings.languages.split("+") if lang not in have]
    if missing:
        packs = " ".join(f"tesseract-ocr-{m.lower().replace('_', '-')}" for m in missing)
        return (f"Tesseract has no {'+'.join(missing)} language data (ocr.languages = {settings.languages!r}; "
                f"installed: {', '.join(sorted(have - {'osd'})) or 'none'}): apt install {packs}")
    return None


def has_osd(settings: OcrSettings) -> bool:
    """Whether Tesseract's orientation data is installed (it comes with tesseract-ocr on Debian)."""
    return check_tesseract(OcrSettings(tesseract=settings.tesseract, languages="osd")) is None


def prepare_image(image: Any, settings: OcrSettings) -> tuple[Any, bool]:
    """``image`` upright (EXIF orientation), flattened onto white, greyscale or RGB, and scaled
    down to ``settings.max_image_pixels``; also whether it was scaled."""
    from PIL import Image, ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    elif image.mode not in ("1", "L", "RGB"):
        image = image.convert("RGB" if image.mode in ("P", "CMYK", "YCbCr", "LAB", "HSV") else "L")
    scaled = False
    pixels = image.width * image.height
    if pixels > settings.max_image_pixels:
        factor = (settings.max_image_pixels / pixels) ** 0.5
        size = (max(1, int(image.width * factor)), max(1, int(image.height * factor)))
        image = image.convert("L").resize(size, Image.Resampling.LANCZOS)
        scaled = True
    return image, scaled


# Tesseract 5's thresholding_method for each binarisation (extract/lighting.py)
THRESHOLDING = {"otsu": 0, "sauvola": 2}


def ocr_page(image: Any, number: int, settings: OcrSettings, dpi: int | None, timeout: float,
             binarize: str | None = None) -> PageText | None:
    """Tesseract's reading of one page image; None when it ran past ``timeout`` seconds.
    ``binarize``: "otsu" or "sauvola" (default: chosen for the image by ``settings.binarize``)."""
    import pytesseract

    pytesseract.pytesseract.tesseract_cmd = settings.tesseract
    psm = 1 if has_osd(settings) else 3  # 1: orientation detected in the same run
    method = THRESHOLDING[binarize or thresholding(image, settings.binarize)]
    config = f"--psm {psm} --dpi {dpi or settings.dpi} -c thresholding_method={method}"
    try:
        data = pytesseract.image_to_data(image, lang=settings.languages, config=config,
                                         output_type=pytesseract.Output.DICT, timeout=timeout)
    except pytesseract.TesseractNotFoundError:  # an OSError: not the file's fault, but no retry helps
        raise ExtractionError(f"OCR needs Tesseract, and {settings.tesseract!r} was not found: {INSTALL_HINT}") from None
    except pytesseract.TesseractError as exc:
        raise ExtractionError(f"OCR failed on page {number}: {short_reason(exc, 300)}") from None
    except RuntimeError as exc:  # pytesseract's "Tesseract process timeout"
        if "timeout" in str(exc).lower():
            return None
        raise ExtractionError(f"OCR failed on page {number}: {short_reason(exc, 300)}") from None
    return _page_text(data, number)


def _page_text(data: dict[str, list[Any]], number: int) -> PageText:
    """Words back into lines (one per line) and paragraphs (a blank line between)."""
    lines: list[str] = []
    last_par: tuple[int, int] | None = None
    last_line: tuple[int, int, int] | None = None
    confidences: list[float] = []
    for i, word in enumerate(data["text"]):
        word = (word or "").strip()
        if not word or int(data["level"][i]) != 5:
            continue
        par = (int(data["block_num"][i]), int(data["par_num"][i]))
        line = (*par, int(data["line_num"][i]))
        if line != last_line:
            if last_par is not None and par != last_par:
                lines.append("")
            lines.append(word)
        else:
            lines[-1] += " " + word
        last_par, last_line = par, line
        conf = float(data["conf"][i])
        if conf >= 0:
            confidences.append(conf)
    text = "\n".join(lines)
    confidence = round(sum(confidences) / len(confidences), 1) if confidences else None
    return PageText(number, text, confidence, len(confidences))


_BLANK_RUNS = re.compile(r"\n{3,}")


def join_pages(parts: list[tuple[int, str, PageText | None]]) -> tuple[str, list[dict[str, Any]]]:
    """The pages' texts joined by a blank line, and where each OCRed page lies in the result:
    ``[{"page", "start", "end", "confidence", "words"}]`` (character offsets of the text).

    ``parts``: (page number, text, its OCR or None for a text layer), in page order.
    """
    pieces: list[str] = []
    spans: list[dict[str, Any]] = []
    at = 0
    for number, text, page in parts:
        text = _BLANK_RUNS.sub("\n\n", text.strip("\n")).replace("\x00", "")
        if not text.strip():
            continue
        if pieces:
            at += 2
        if page is not None:
            spans.append({"page": number, "start": at, "end": at + len(text),
                          "confidence": page.confidence, "words": page.words,
                          **({"deskewed": page.skew} if page.skew else {})})
        pieces.append(text)
        at += len(text)
    return "\n\n".join(pieces), spans

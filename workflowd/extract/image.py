"""Images (PNG, JPEG, TIFF with its pages, WebP, GIF, BMP, HEIC) read by OCR."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from ..config import ExtractSettings
from ..errors import ExtractionError
from .ocr import OcrJob, join_pages, prepare_image
from .result import Extraction
from .textutil import short_reason

__all__ = ["IMAGE_TYPES", "extract_image"]

HEIC = "image/heic"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/tiff", "image/webp", "image/gif", "image/bmp", HEIC)
_MULTI_PAGE = ("TIFF", "MPO")  # formats whose frames are pages (an animated GIF's are not)


def extract_image(data: bytes, settings: ExtractSettings, blob_dir: Path, ocr: OcrJob | None = None) -> Extraction:
    """The text of an image's pages by OCR; ExtractionError for a damaged or oversized image."""
    if ocr is None:
        raise ExtractionError("an image: OCR is not available here")
    ocr.start()  # a clear failure when OCR is off or Tesseract is missing, before decoding anything
    image = _open(data, settings, ocr)
    if image.width < 24 or image.height < 12:  # a tracking pixel, a bullet, a spacer in a newsletter
        raise ExtractionError(f"image of {image.width}×{image.height} pixels: too small to hold text")
    frames = getattr(image, "n_frames", 1) if image.format in _MULTI_PAGE else 1
    parts: list[tuple[int, str, Any]] = []
    for index in range(frames):
        if not ocr.may_continue(frames):
            break
        try:
            image.seek(index)
            page, scaled = prepare_image(image, ocr.settings)
        except MemoryError:
            raise
        except Exception as exc:
            if not parts:
                raise ExtractionError(f"damaged image: {short_reason(exc)}") from None
            ocr.stopped = f"page {index + 1} of {frames} could not be read: {short_reason(exc)}"
            break
        ocr.scaled |= scaled
        read = ocr.read(page, index + 1, None if scaled else _dpi(image))
        if read is None:
            break
        parts.append((index + 1, read.text, read))
    text, spans = join_pages(parts)
    meta: dict[str, Any] = {"width": image.width, "height": image.height, "format": image.format}
    if frames > 1:
        meta["pages"] = frames
    meta["ocr"] = ocr.meta(spans)
    if not text.strip():
        raise ExtractionError(f"OCR found no text in the image ({meta['width']}×{meta['height']} pixels)")
    return Extraction(media_type="", text=text, title=None, meta=meta)


def _open(data: bytes, settings: ExtractSettings, ocr: OcrJob) -> Any:
    """The image, header read; decoding checked against the memory the extractor has."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # the size is checked here, against extract.max_memory_mb
    _register_heif()
    try:
        image = Image.open(io.BytesIO(data))
    except MemoryError:
        raise
    except UnidentifiedImageError:
        raise ExtractionError("damaged image: its header names an image type, and the rest cannot be read as one") from None
    except Exception as exc:
        raise ExtractionError(f"damaged image: {short_reason(exc)}") from None
    width, height = image.size
    if image.format == "JPEG" and width * height > ocr.settings.max_image_pixels:
        factor = (ocr.settings.max_image_pixels / (width * height)) ** 0.5
        image.draft("L", (int(width * factor) + 1, int(height * factor) + 1))  # decoded at 1/2, 1/4 or 1/8
        ocr.scaled = True
    bands = len(image.getbands())
    decoded = image.size[0] * image.size[1] * max(1, bands)
    budget = settings.max_memory_mb * 1024 * 1024 // 4
    if decoded > budget:
        raise ExtractionError(
            f"image is {width}×{height} pixels ({width * height / 1e6:.0f} Mpx): decoding it needs "
            f"{decoded / 2**20:.0f} MB, more than a quarter of extract.max_memory_mb ({settings.max_memory_mb} MB)"
        )
    try:
        image.load()
    except MemoryError:
        raise
    except Exception as exc:
        raise ExtractionError(f"damaged image: {short_reason(exc)}") from None
    return image


def _dpi(image: Any) -> int | None:
    """The resolution the image states, when it is a believable one."""
    dpi = image.info.get("dpi")
    try:
        value = round(float(dpi[0])) if dpi else 0
    except (TypeError, ValueError, IndexError):
        return None
    return value if 70 <= value <= 2400 else None


def _register_heif() -> None:
    """HEIC/HEIF (iPhone photos) through pillow-heif, where it is installed."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return
    register_heif_opener()

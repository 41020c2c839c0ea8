"""Rendered "scans" of known text, for the OCR tests and ``benchmarks/ocr_bbc.py``.

Text is laid out on A4 pages in a serif font at a given resolution, then optionally degraded
the way a cheap scanner or a phone photo degrades it: rotated a few degrees, blurred, with
Gaussian noise, saved as JPEG. The source text is what the character error rate is measured
against. Fonts: Debian's DejaVu or Liberation (``fonts-dejavu-core``, installed with
Chromium and most desktops); :func:`find_font` returns None where neither is present.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
A4_INCHES = (8.27, 11.69)


def find_font() -> str | None:
    """A TrueType font file this machine has, or None."""
    return next((f for f in FONTS if Path(f).is_file()), None)


@dataclass(frozen=True)
class Condition:
    """How a page is scanned: resolution and degradations."""

    name: str
    dpi: int = 300
    rotate: float = 0.0  # degrees, counter-clockwise
    blur: float = 0.0  # Gaussian blur radius in pixels
    noise: float = 0.0  # standard deviation of Gaussian noise, in grey levels
    jpeg: int | None = None  # JPEG quality, or None for a lossless page
    shadow: float = 0.0  # a phone photo's uneven light: grey paper, darkest corner at 1 - shadow


CLEAN_300 = Condition("300 dpi clean", 300)
NOISY_150 = Condition("150 dpi, noise, blur, 2° rotation, JPEG 75", 150, rotate=2.0, blur=0.6, noise=12.0, jpeg=75)
CONDITIONS = (
    CLEAN_300,
    Condition("300 dpi, 3° rotation, noise, JPEG 80", 300, rotate=3.0, blur=0.8, noise=12.0, jpeg=80),
    Condition("150 dpi clean", 150),
    NOISY_150,
)


def layout(text: str, dpi: int, font_path: str, point_size: float = 11.0) -> list[list[str]]:
    """``text`` broken into lines that fit an A4 page with 2 cm margins, then into pages."""
    font = ImageFont.truetype(font_path, round(point_size * dpi / 72))
    width = int((A4_INCHES[0] - 2 * 0.79) * dpi)
    line_height = round(point_size * 1.45 * dpi / 72)
    per_page = int((A4_INCHES[1] - 2 * 0.79) * dpi) // line_height
    lines: list[str] = []
    for paragraph in text.split("\n"):
        words, line = paragraph.split(), ""
        for word in words:
            candidate = f"{line} {word}".strip()
            if line and font.getlength(candidate) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return [lines[i:i + per_page] for i in range(0, len(lines), per_page)] or [[]]


def render_page(lines: list[str], condition: Condition, font_path: str, seed: int = 0,
                point_size: float = 11.0) -> Image.Image:
    """One page (greyscale) of ``lines`` as ``condition`` scans it."""
    dpi = condition.dpi
    size = (round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi))
    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(font_path, round(point_size * dpi / 72))
    line_height = round(point_size * 1.45 * dpi / 72)
    margin = round(0.79 * dpi)
    for i, line in enumerate(lines):
        draw.text((margin, margin + i * line_height), line, font=font, fill=0)
    if condition.rotate:
        page = page.rotate(condition.rotate, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    if condition.shadow:
        page = shaded(page, condition.shadow)
    if condition.blur:
        page = page.filter(ImageFilter.GaussianBlur(condition.blur))
    if condition.noise:
        rng = np.random.default_rng(seed)
        pixels = np.asarray(page, dtype=np.float32) + rng.normal(0.0, condition.noise, (size[1], size[0]))
        page = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "L")
    if condition.jpeg:
        buffer = io.BytesIO()
        page.save(buffer, "JPEG", quality=condition.jpeg)
        page = Image.open(io.BytesIO(buffer.getvalue()))
        page.load()
    page.info["dpi"] = (dpi, dpi)
    return page


def shaded(page: Image.Image, shadow: float) -> Image.Image:
    """``page`` photographed in uneven light: grey paper (200) and ink (40) both darkening
    towards the bottom-right corner, where the light is ``1 - shadow`` of the top-left's."""
    ink = 1.0 - np.asarray(page, dtype=np.float32) / 255.0
    h, w = ink.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    light = 1.0 - shadow * (0.7 * xs / w + 0.3 * ys / h)
    out = light * (200.0 - 160.0 * ink)
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), "L")


def render(text: str, condition: Condition, seed: int = 0, point_size: float = 11.0) -> list[Image.Image]:
    """Every page of ``text`` as ``condition`` scans it."""
    font_path = find_font()
    if font_path is None:
        raise RuntimeError("no TrueType font found (install fonts-dejavu-core)")
    pages = layout(text, condition.dpi, font_path, point_size)
    return [render_page(lines, condition, font_path, seed + i, point_size) for i, lines in enumerate(pages)]


def save_pdf(pages: list[Image.Image], path: Path, dpi: int) -> None:
    """The pages as an image-only PDF (no text layer), as an office scanner writes one."""
    pages[0].convert("L").save(path, "PDF", resolution=dpi, save_all=True,
                               append_images=[p.convert("L") for p in pages[1:]])


def save_tiff(pages: list[Image.Image], path: Path, dpi: int) -> None:
    """The pages as one multi-page TIFF (Group 4 fax compression, as scanners write them)."""
    bw = [p.convert("1") for p in pages]
    bw[0].save(path, "TIFF", compression="group4", dpi=(dpi, dpi), save_all=True, append_images=bw[1:])

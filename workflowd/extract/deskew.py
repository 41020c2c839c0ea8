"""Skew: a page photographed or fed into a scanner at an angle, straightened before OCR.

Tesseract follows lines tilted by a few degrees but reads nothing of a page tilted by 8° or
more (the plain ``tesseract`` command gave 65 characters of a full page at 8° and none at 12°;
benchmarks/README.md). The angle is found by the projection-profile method: the ink pixels
of a small copy of the page are projected onto lines at each candidate angle, and text lines
lie along the angle where the projection is most peaked (rows of ink, then gaps). Columns
are scored too, so a page turned sideways is straightened as well, and Tesseract's
orientation detection then turns it upright.

Written here rather than taken from the ``deskew`` package, which needs scikit-image and its
dependencies for the same few lines of numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["MAX_SKEW", "deskew", "estimate_skew"]

MAX_SKEW = 20.0  # degrees either way; a larger tilt is taken for a turned page (Tesseract's 90°)
MIN_SKEW = 0.5  # smaller tilts are left to Tesseract's own line finding
MIN_GAIN = 1.1  # the straightened projection must be this much more peaked than the page's own
_SIDE = 1000  # pixels on the longer side of the copy the angle is measured on
_MAX_POINTS = 150_000
_INK_RATIO = 0.75  # ink: at most this share of its neighbourhood's mean brightness


def estimate_skew(image: Any) -> float:
    """The angle in degrees (counter-clockwise, as ``Image.rotate`` takes it) that the text of
    ``image`` is tilted by; 0.0 when it is straight or no clear text lines are seen."""
    points = _ink(image)
    if points is None:
        return 0.0
    coarse = np.arange(-MAX_SKEW, MAX_SKEW + 0.5, 0.5)
    scores = [_peakedness(points, a) for a in coarse]
    best = float(coarse[int(np.argmax(scores))])
    fine = np.arange(best - 0.5, best + 0.51, 0.1)
    fine_scores = [_peakedness(points, a) for a in fine]
    angle = float(fine[int(np.argmax(fine_scores))])
    if abs(angle) < MIN_SKEW or max(fine_scores) < MIN_GAIN * _peakedness(points, 0.0):
        return 0.0
    return round(angle, 1)


def deskew(image: Any) -> tuple[Any, float]:
    """``image`` straightened (greyscale, the corners filled white) and the angle it was turned
    back by; the image itself and 0.0 when it is straight."""
    from PIL import Image

    angle = estimate_skew(image)
    if not angle:
        return image, 0.0
    grey = image.convert("L")
    straight = grey.rotate(-angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    straight.info = dict(image.info)
    return straight, angle


def _ink(image: Any) -> np.ndarray | None:
    """Coordinates (x, y) of the dark pixels of a copy of ``image`` about _SIDE pixels long,
    centred; None when there is too little ink (or too much) to hold lines of text.

    A pixel is ink when it is clearly darker than its neighbourhood (a local threshold): a
    photo's shadow, grey paper and white corners left by a turn do not count as ink, as they
    would under one threshold for the whole page."""
    from PIL import ImageFilter

    grey = image.convert("L")
    factor = max(1, int(max(grey.size) / _SIDE))
    if factor > 1:
        grey = grey.reduce(factor)
    pixels = np.asarray(grey, dtype=np.float32)
    around = np.asarray(grey.filter(ImageFilter.BoxBlur(max(8, max(grey.size) // 40))), dtype=np.float32)
    ys, xs = np.nonzero(pixels < _INK_RATIO * around)
    share = len(xs) / max(1, pixels.size)
    if len(xs) < 200 or share > 0.5:
        return None
    if len(xs) > _MAX_POINTS:
        pick = np.random.default_rng(0).choice(len(xs), _MAX_POINTS, replace=False)
        xs, ys = xs[pick], ys[pick]
    h, w = pixels.shape
    return np.stack([xs - w / 2.0, ys - h / 2.0]).astype(np.float32)


def _peakedness(points: np.ndarray, angle: float) -> float:
    """How sharply the ink, seen along ``angle``, falls into rows or into columns: the larger
    of the two sums of squared counts per 1-pixel band."""
    t = np.deg2rad(angle)
    x, y = points
    # the page turned back by ``angle``: text tilted by it lies along rows
    rows = y * np.cos(t) + x * np.sin(t)
    cols = x * np.cos(t) - y * np.sin(t)
    return max(_square_sum(rows), _square_sum(cols))


def _square_sum(values: np.ndarray) -> float:
    counts = np.bincount(np.round(values - values.min()).astype(np.int64))
    return float(np.dot(counts, counts))

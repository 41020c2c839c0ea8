"""Light across a page: an evenly lit scan, or a photo with a shadow over part of it.

Tesseract tells ink from paper by one threshold for the page (Otsu) unless told to use a
local one (Sauvola). One threshold is the better choice for an evenly lit page (on the
scans of benchmarks/ocr_bbc.py, Sauvola made as many character errors on 3 conditions, 0.01-0.03
points more on 6, 0.02 fewer on 1) and a poor one for a photo in uneven light: with the paper at 40% of its brightness in one
corner, it lost 40% of a letter's text and Sauvola none. ``ocr.binarize = "auto"`` picks by
how even the paper's brightness is (:func:`paper_evenness`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["UNEVEN", "paper_evenness", "thresholding"]

UNEVEN = 0.8  # paper this much darker in places than elsewhere: a shadow, read with Sauvola
_SIDE = 256  # pixels on the longer side of the copy the paper is measured on
_GRID = 8  # blocks per side


def paper_evenness(image: Any) -> float:
    """How evenly lit the paper of ``image`` is: the brightness of its darker paper over that
    of its brighter paper (1.0: even; 0.6 for paper at 40% of its light in one corner).

    The paper's brightness in each of 8 × 8 blocks is the block's 90th percentile (most of a
    block is paper, even in a line of text); the darker and brighter paper are the 10th and
    90th percentiles of those levels, so a photo or a dark margin in a few blocks does not
    count."""
    grey = image.convert("L")
    factor = max(1, int(max(grey.size) / _SIDE))
    small = np.asarray(grey.reduce(factor) if factor > 1 else grey, dtype=np.float32)
    h, w = small.shape
    bh, bw = max(1, h // _GRID), max(1, w // _GRID)
    levels = [np.percentile(small[i:i + bh, j:j + bw], 90)
              for i in range(0, h - bh + 1, bh) for j in range(0, w - bw + 1, bw)]
    darker, brighter = np.percentile(levels, [10, 90])
    return float(darker / brighter) if brighter > 0 else 1.0


def thresholding(image: Any, binarize: str) -> str:
    """"sauvola" or "otsu" for ``image`` under ``ocr.binarize`` ("auto", "sauvola", "otsu")."""
    if binarize != "auto":
        return binarize
    return "sauvola" if paper_evenness(image) < UNEVEN else "otsu"

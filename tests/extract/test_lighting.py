"""How evenly a page is lit decides Tesseract's binarisation under ocr.binarize = "auto"."""

from __future__ import annotations

import pytest
from PIL import Image

from tests.scans import CLEAN_300, NOISY_150, Condition, find_font, render
from workflowd.extract.lighting import UNEVEN, paper_evenness, thresholding

pytestmark = pytest.mark.skipif(find_font() is None, reason="no TrueType font to render test pages with "
                                                           "(apt install fonts-dejavu-core)")
TEXT = "\n".join(["Please call our office in Manchester before Tuesday about the repair."] * 30)
GREY = Condition("grey paper", 200, noise=8.0, shadow=0.05)


@pytest.mark.parametrize("condition", [CLEAN_300, NOISY_150, GREY], ids=["clean", "noisy", "grey"])
def test_an_evenly_lit_scan_keeps_one_threshold(condition: Condition) -> None:
    page = render(TEXT, condition)[0]
    assert paper_evenness(page) > 0.95
    assert thresholding(page, "auto") == "otsu"
    if condition.shadow == 0:  # white paper turned, white corners around it: still even
        assert thresholding(page.rotate(10, expand=True, fillcolor=255), "auto") == "otsu"


@pytest.mark.parametrize("shadow", [0.5, 0.6, 0.8])
def test_a_photo_in_a_shadow_gets_local_thresholds(shadow: float) -> None:
    page = render(TEXT, Condition("shadow", 200, noise=8.0, jpeg=80, shadow=shadow))[0]
    assert paper_evenness(page) < UNEVEN
    assert thresholding(page, "auto") == "sauvola"
    assert thresholding(page, "otsu") == "otsu"  # what the user chose is kept


def test_blank_and_black_pages_are_even() -> None:
    for colour in (0, 255):
        assert paper_evenness(Image.new("L", (800, 1000), colour)) == 1.0

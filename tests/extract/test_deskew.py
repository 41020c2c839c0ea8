"""The skew angle of a page, found by the projection profile (no Tesseract needed)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from tests.scans import Condition, find_font, render
from workflowd.extract.deskew import deskew, estimate_skew

pytestmark = pytest.mark.skipif(find_font() is None, reason="no TrueType font to render test pages with "
                                                           "(apt install fonts-dejavu-core)")
TEXT = "\n".join(["The engineer will visit on Tuesday to replace the faulty valve of the boiler."] * 30)


@pytest.mark.parametrize("tilt", [-19.0, -8.0, -2.5, 1.0, 4.0, 12.0])
@pytest.mark.parametrize("dpi", [150, 300])
def test_the_angle_of_a_tilted_page_is_found(tilt: float, dpi: int) -> None:
    page = render(TEXT, Condition("t", dpi, rotate=tilt, noise=12.0, jpeg=75))[0]
    assert estimate_skew(page) == pytest.approx(tilt, abs=0.2)
    assert estimate_skew(page.rotate(90, expand=True, fillcolor=255)) == pytest.approx(tilt, abs=0.2)


@pytest.mark.parametrize("tilt", [-6.0, 6.0, 11.0])
def test_a_photo_in_a_shadow_with_white_corners_is_measured_too(tilt: float) -> None:
    """Grey paper darkening to one corner, turned whole (white corners): one threshold for the
    page would take all the paper for ink; the local one sees the lines."""
    page = render(TEXT, Condition("t", 200, noise=8.0, jpeg=80, shadow=0.6))[0]
    turned = page.rotate(tilt, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    assert estimate_skew(turned) == pytest.approx(tilt, abs=0.2)


def test_a_straightened_page_measures_straight() -> None:
    page = render(TEXT, Condition("t", 200, rotate=9.0))[0].convert("RGB")
    straight, angle = deskew(page)
    assert angle == pytest.approx(9.0, abs=0.2)
    assert straight.mode == "L" and straight.width > page.width  # turned back whole, corners white
    assert abs(estimate_skew(straight)) <= 0.5


@pytest.mark.parametrize("page", [
    Image.new("L", (1240, 1754), 255),  # blank
    Image.new("L", (1240, 1754), 0),  # all ink
    Image.fromarray((np.random.default_rng(0).random((1200, 1600)) * 255).astype(np.uint8)),  # no lines
], ids=["blank", "black", "noise"])
def test_a_page_without_lines_of_text_is_left_as_it_is(page: Image.Image) -> None:
    assert estimate_skew(page) == 0.0
    assert deskew(page) == (page, 0.0)

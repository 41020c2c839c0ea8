"""OCR with the real Tesseract: images, image-only and mixed PDFs, orientation, limits, failures."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont
from rapidfuzz.distance import Levenshtein

from tests.scans import CLEAN_300, NOISY_150, Condition, find_font, render, save_pdf, save_tiff
from workflowd.config import ExtractSettings, OcrSettings
from workflowd.errors import ExtractionError
from workflowd.extract.core import extract_file
from workflowd.extract.sandbox import SandboxedExtractor
from workflowd.views import ocr_summary

from .conftest import make_pdf


def _tesseract_problem() -> str | None:
    if shutil.which("tesseract") is None:
        return "tesseract is not installed (apt install tesseract-ocr tesseract-ocr-eng)"
    langs = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=False).stdout.split()
    if "eng" not in langs:
        return "Tesseract's English data is not installed (apt install tesseract-ocr-eng)"
    if find_font() is None:
        return "no TrueType font to render test scans with (apt install fonts-dejavu-core)"
    return None


pytestmark = pytest.mark.skipif(bool(_tesseract_problem()), reason=_tesseract_problem() or "")

LETTER = (
    "Dear Mr Patel,\n"
    "Thank you for your letter of 12 March about the boiler at 14 Mill Lane, Leeds. Our engineer, "
    "Sarah Jones, will visit on Tuesday to replace the faulty valve. The repair is covered by your "
    "service plan with Northern Heating Ltd, so there is nothing to pay.\n"
    "If the heating fails again before then, please call our office in Manchester.\n"
    "Yours sincerely,\nDavid Brown"
)
LONG = "\n".join([LETTER] * 9)  # two pages at 11 points


def cer(reference: str, hypothesis: str) -> float:
    ref, hyp = " ".join(reference.split()), " ".join(hypothesis.split())
    return Levenshtein.distance(ref, hyp) / len(ref)


def image_bytes(image: Image.Image, fmt: str, **kw) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


@pytest.fixture(scope="module")
def clean_page() -> Image.Image:
    return render(LETTER, CLEAN_300)[0]


@pytest.fixture
def ocr_settings() -> OcrSettings:
    return OcrSettings()


def test_png_keeps_text_confidence_and_page_offsets(write, settings, blob_dir, clean_page) -> None:
    result = extract_file(write("letter.png", image_bytes(clean_page, "PNG", dpi=(300, 300))), settings, blob_dir)
    assert result.media_type == "image/png"
    assert cer(LETTER, result.text) < 0.01
    ocr = result.meta["ocr"]
    assert ocr["engine"] == "tesseract" and ocr["languages"] == "eng" and ocr["pages_read"] == 1
    assert ocr["confidence"] > 85
    [page] = ocr["pages"]
    assert page["page"] == 1 and page["words"] > 60
    assert result.text[page["start"]:page["end"]] == result.text


def test_photo_like_jpeg_and_webp(write, settings, blob_dir) -> None:
    noisy = render(LETTER, NOISY_150)[0]
    jpeg = extract_file(write("photo.jpg", image_bytes(noisy, "JPEG", quality=70)), settings, blob_dir)
    assert jpeg.media_type == "image/jpeg" and cer(LETTER, jpeg.text) < 0.03
    webp = extract_file(write("shot.webp", image_bytes(noisy, "WEBP", quality=80)), settings, blob_dir)
    assert webp.media_type == "image/webp" and cer(LETTER, webp.text) < 0.03


def test_iphone_heic_photo(write, settings, blob_dir, clean_page) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    heic = image_bytes(clean_page.convert("RGB"), "HEIF", quality=85)
    result = extract_file(write("IMG_0042.HEIC", heic), settings, blob_dir)
    assert result.media_type == "image/heic" and cer(LETTER, result.text) < 0.02


def test_multi_page_tiff_records_each_page(write, settings, blob_dir, tmp_path: Path) -> None:
    pages = render(LONG, CLEAN_300)
    assert len(pages) == 2
    save_tiff(pages, tmp_path / "fax.tiff", 300)
    result = extract_file(tmp_path / "fax.tiff", settings, blob_dir)
    assert result.media_type == "image/tiff" and result.meta["pages"] == 2
    spans = result.meta["ocr"]["pages"]
    assert [s["page"] for s in spans] == [1, 2]
    assert cer(LONG, result.text) < 0.01
    second = result.text[spans[1]["start"]:spans[1]["end"]]
    assert second.split()[-2:] == ["David", "Brown"] and spans[0]["end"] + 2 == spans[1]["start"]


def test_image_only_pdf_and_a_mixed_one_ocr_only_the_scanned_pages(write, settings, blob_dir, tmp_path) -> None:
    save_pdf(render(LETTER, NOISY_150), tmp_path / "scan.pdf", 150)
    scan = extract_file(tmp_path / "scan.pdf", settings, blob_dir)
    assert cer(LETTER, scan.text) < 0.03 and scan.meta["ocr"]["pages_read"] == 1

    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.append(io.BytesIO(make_pdf(["Cover page: the repair file of 14 Mill Lane"])))
    writer.append(tmp_path / "scan.pdf")
    out = io.BytesIO()
    writer.write(out)
    mixed = extract_file(write("mixed.pdf", out.getvalue()), settings, blob_dir)
    assert mixed.meta["pages"] == 2 and mixed.meta["ocr"]["pages_read"] == 1
    assert mixed.text.startswith("Cover page: the repair file of 14 Mill Lane\n\n")
    [span] = mixed.meta["ocr"]["pages"]
    assert span["page"] == 2 and cer(LETTER, mixed.text[span["start"]:span["end"]]) < 0.03


def test_a_pdf_with_a_text_layer_is_not_ocred(write, settings, blob_dir) -> None:
    result = extract_file(write("a.pdf", make_pdf(["The first page of real text.", "And a second one."])),
                          settings, blob_dir)
    assert "ocr" not in result.meta


@pytest.mark.parametrize("angle", [90, 180])
def test_a_page_scanned_sideways_or_upside_down_is_turned(write, settings, blob_dir, clean_page, angle) -> None:
    turned = clean_page.rotate(angle, expand=True, fillcolor=255)
    result = extract_file(write("turned.png", image_bytes(turned, "PNG")), settings, blob_dir)
    assert cer(LETTER, result.text) < 0.02


@pytest.mark.parametrize(("tilt", "turn"), [(9.0, 0), (-12.0, 0), (15.0, 0), (10.0, 90)])
def test_a_tilted_photo_is_straightened_before_ocr(write, settings, blob_dir, tilt, turn) -> None:
    """Tesseract alone reads little or nothing of a page tilted by 9° or more; workflowd
    straightens it (a sideways one too: the tilt first, then Tesseract's orientation) and
    records the angle."""
    page = render(LETTER, Condition("photo", 200, blur=0.6, noise=10.0))[0]
    page = page.rotate(tilt + turn, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    path = write("tilted.jpg", image_bytes(page, "JPEG", quality=80, dpi=(200, 200)))
    result = extract_file(path, settings, blob_dir)
    assert cer(LETTER, result.text) < 0.03
    [read] = result.meta["ocr"]["pages"]
    assert read["deskewed"] == pytest.approx(tilt, abs=0.3)
    assert "straightened: page 1 by" in ocr_summary(result.meta)
    try:  # what Tesseract alone makes of it: nothing, or mostly noise
        unstraightened = cer(LETTER, extract_file(path, settings, blob_dir, ocr=OcrSettings(deskew=False)).text)
    except ExtractionError as exc:
        assert str(exc).startswith("OCR found no text")
    else:
        print(f"tilt {tilt}, turn {turn}: CER without deskew {unstraightened:.2%}")
        assert unstraightened > 0.2


def test_a_photo_in_uneven_light_is_read_with_local_thresholds(write, settings, blob_dir) -> None:
    """A shadow across a phone photo: Tesseract's global threshold (ocr.binarize = "otsu")
    loses whole lines in the dark corner; the default ("auto") sees the uneven paper and
    reads it with Sauvola's local thresholds, as "sauvola" does."""
    source = "\n".join([LETTER] * 3)
    page = render(source, Condition("photo in a shadow", 200, noise=8.0, jpeg=80, shadow=0.6))[0]
    path = write("shadow.jpg", image_bytes(page, "JPEG", quality=80, dpi=(200, 200)))
    assert cer(source, extract_file(path, settings, blob_dir).text) < 0.02
    assert cer(source, extract_file(path, settings, blob_dir, ocr=OcrSettings(binarize="sauvola")).text) < 0.02
    otsu = extract_file(path, settings, blob_dir, ocr=OcrSettings(binarize="otsu"))
    assert cer(source, otsu.text) > 0.1


def test_a_straight_page_is_not_turned(write, settings, blob_dir, clean_page) -> None:
    result = extract_file(write("letter.png", image_bytes(clean_page, "PNG", dpi=(300, 300))), settings, blob_dir)
    assert "deskewed" not in result.meta["ocr"]["pages"][0]
    assert "straightened" not in ocr_summary(result.meta)


def test_exif_orientation_of_a_phone_photo_is_applied(write, settings, blob_dir, clean_page) -> None:
    stored = clean_page.convert("RGB").rotate(-90, expand=True)  # the camera stores it sideways...
    exif = Image.Exif()
    exif[0x0112] = 8  # ...and says "rotate 90° counter-clockwise to view"
    result = extract_file(write("phone.jpg", image_bytes(stored, "JPEG", quality=90, exif=exif)), settings, blob_dir)
    assert cer(LETTER, result.text) < 0.02


def test_transparent_png_is_read_on_white(write, settings, blob_dir, clean_page) -> None:
    rgba = Image.new("RGBA", clean_page.size, (0, 0, 0, 0))
    rgba.putalpha(Image.eval(clean_page, lambda v: 255 - v))  # black text on a transparent page
    result = extract_file(write("clip.png", image_bytes(rgba, "PNG")), settings, blob_dir)
    assert cer(LETTER, result.text) < 0.02


def test_ocr_off_and_tesseract_missing_are_clear_reasons(write, settings, blob_dir, clean_page) -> None:
    png = write("letter.png", image_bytes(clean_page, "PNG"))
    with pytest.raises(ExtractionError, match=r"^OCR is off \(ocr.enabled = false\)$"):
        extract_file(png, settings, blob_dir, ocr=OcrSettings(enabled=False))
    missing = OcrSettings(tesseract="/nowhere/tesseract")
    with pytest.raises(ExtractionError, match=r"^OCR needs Tesseract, and '/nowhere/tesseract' was not found: "
                                              r"install it with `apt install tesseract-ocr"):
        extract_file(png, settings, blob_dir, ocr=missing)
    with pytest.raises(ExtractionError, match=r"Tesseract has no xyz language data .*apt install tesseract-ocr-xyz"):
        extract_file(png, settings, blob_dir, ocr=OcrSettings(languages="eng+xyz"))


def test_tesseract_installed_while_running_is_found_at_the_next_file(tmp_path: Path) -> None:
    from workflowd.extract.ocr import check_tesseract

    program = tmp_path / "bin" / "tesseract"
    settings = OcrSettings(tesseract=str(program))
    assert check_tesseract(settings).startswith("OCR needs Tesseract")
    program.parent.mkdir()
    program.write_text(f'#!/bin/sh\nexec {shutil.which("tesseract")} "$@"\n')
    program.chmod(0o755)
    assert check_tesseract(settings) is None  # a failure is not remembered, a success is


def test_mixed_pdf_keeps_its_text_when_ocr_cannot_run(write, settings, blob_dir, tmp_path) -> None:
    from pypdf import PdfWriter

    save_pdf(render(LETTER, NOISY_150), tmp_path / "scan.pdf", 150)
    writer = PdfWriter()
    writer.append(io.BytesIO(make_pdf(["Cover page: the repair file of 14 Mill Lane"])))
    writer.append(tmp_path / "scan.pdf")
    out = io.BytesIO()
    writer.write(out)
    path = write("mixed.pdf", out.getvalue())
    result = extract_file(path, settings, blob_dir, ocr=OcrSettings(enabled=False))
    assert result.text == "Cover page: the repair file of 14 Mill Lane"
    assert result.meta["ocr_skipped"] == "1 scanned page(s) not read: OCR is off (ocr.enabled = false)"
    with pytest.raises(ExtractionError, match=r"^the PDF has no text layer \(a scan\?\): OCR is off"):
        extract_file(tmp_path / "scan.pdf", settings, blob_dir, ocr=OcrSettings(enabled=False))


@pytest.mark.parametrize(("data", "reason"), [
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "damaged image: its header names an image type"),
    (b"\xff\xd8\xff\xe0" + b"\x13" * 500, "damaged image"),
])
def test_corrupt_images_fail_with_the_reason(write, settings, blob_dir, data, reason) -> None:
    with pytest.raises(ExtractionError, match=f"^{reason}"):
        extract_file(write("bad.png", data), settings, blob_dir)


def test_a_tracking_pixel_fails_at_once(write, settings, blob_dir) -> None:
    pixel = image_bytes(Image.new("RGBA", (1, 1)), "GIF")
    with pytest.raises(ExtractionError, match=r"^image of 1×1 pixels: too small to hold text$"):
        extract_file(write("open.gif", pixel), settings, blob_dir)


def test_truncated_png_fails_with_the_reason(write, settings, blob_dir, clean_page) -> None:
    data = image_bytes(clean_page, "PNG")
    with pytest.raises(ExtractionError, match="^damaged image: "):
        extract_file(write("cut.png", data[: len(data) // 2]), settings, blob_dir)


def test_an_image_too_large_to_decode_fails_with_the_reason(write, blob_dir) -> None:
    big = Image.new("RGB", (6000, 6000), "white")
    with pytest.raises(ExtractionError, match=r"^image is 6000×6000 pixels \(36 Mpx\): decoding it needs 103 MB, "
                                              r"more than a quarter of extract.max_memory_mb \(256 MB\)"):
        extract_file(write("big.png", image_bytes(big, "PNG")), ExtractSettings(max_memory_mb=256), blob_dir)


# -- through the sandbox: its limits hold, the child survives -------------------------------------


def test_20000_pixel_square_image_is_scaled_down_within_the_sandbox(tmp_path: Path) -> None:
    image = Image.new("L", (20_000, 20_000), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(find_font(), 400)
    draw.text((1000, 1000), "Invoice 2041 from Northern Heating", font=font, fill=0)
    path = tmp_path / "poster.png"
    image.save(path, "PNG")
    del image, draw
    with SandboxedExtractor(ExtractSettings(timeout=60), tmp_path / "blobs") as sandbox:
        result = sandbox.extract(path)
        assert result.meta["width"] == 20_000 and result.meta["ocr"]["scaled_down"] is True
        assert "Invoice 2041 from Northern Heating" in " ".join(result.text.split())
        pid = sandbox.pid
        assert sandbox.extract(_text_file(tmp_path)).text == "still here"
        assert sandbox.pid == pid


def _text_file(tmp_path: Path) -> Path:
    path = tmp_path / "after.txt"
    path.write_text("still here")
    return path


def _many_page_scan(tmp_path: Path, pages: int) -> Path:
    font = ImageFont.truetype(find_font(), 20)
    images = []
    for i in range(pages):
        page = Image.new("L", (612, 792), 255)
        ImageDraw.Draw(page).text((60, 60), f"Scanned page number {i + 1} of the archive", font=font, fill=0)
        images.append(page)
    path = tmp_path / "archive.pdf"
    images[0].save(path, "PDF", resolution=72, save_all=True, append_images=images[1:])
    return path


def test_500_page_scan_stops_at_max_pages_with_a_note(tmp_path: Path) -> None:
    path = _many_page_scan(tmp_path, 500)
    ocr = OcrSettings(max_pages=3, dpi=150)
    with SandboxedExtractor(ExtractSettings(timeout=30), tmp_path / "blobs", ocr=ocr) as sandbox:
        result = sandbox.extract(path)
    assert result.meta["pages"] == 500 and result.meta["ocr"]["pages_read"] == 3
    assert result.meta["ocr"]["stopped"] == "OCR stopped after 3 of 500 pages (ocr.max_pages = 3)"
    assert "Scanned page number 3 of the archive" in result.text and "number 4" not in result.text


def test_ocr_gets_its_own_time_and_stops_at_ocr_timeout_with_a_note(tmp_path: Path) -> None:
    path = _many_page_scan(tmp_path, 500)
    # extract.timeout alone (2 s) is less than the OCR takes: the child asks for ocr.timeout more
    ocr = OcrSettings(timeout=6, dpi=150)
    with SandboxedExtractor(ExtractSettings(timeout=2), tmp_path / "blobs", ocr=ocr) as sandbox:
        started = time.monotonic()
        result = sandbox.extract(path)
        took = time.monotonic() - started
        pid = sandbox.pid
        assert sandbox.extract(_text_file(tmp_path)).text == "still here" and sandbox.pid == pid
    read = result.meta["ocr"]["pages_read"]
    assert 2 < read < 500 and took < 2 + 6 + 2
    assert result.meta["ocr"]["stopped"].startswith(("OCR stopped after", "OCR stopped at page"))
    assert "ocr.timeout (6 s) reached" in result.meta["ocr"]["stopped"]
    assert json.dumps(result.meta)  # what the store keeps

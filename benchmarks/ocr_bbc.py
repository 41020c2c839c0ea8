"""OCR on rendered scans of held-out BBC articles: character error rate, cost per page, and
whether the steps give the same answers on the OCR text as on the typed text.

Each article of the evaluation part (benchmarks/bbc.py; ``--docs N`` of them) is rendered as
A4 pages in an 11-point serif font (tests/scans.py) under several scanning conditions, saved
as a user's file would be (PNG, JPEG, or an image-only PDF), and read:

- by workflowd: ``SandboxedExtractor``, the daemon's own extraction path (the sandbox, the
  default ``[ocr]`` settings: 300 dpi for PDF pages, page segmentation with orientation);
- by the plain ``tesseract IMAGE stdout`` command on the same image files (for the PDFs, on
  the page images they were made from), as the reference for "workflowd loses nothing".

The character error rate is the edit distance between the whitespace-normalised source text
and OCR text over the source's length (rapidfuzz). Then the typed articles and the OCR texts
are ingested through ``workflowd ingest`` (one temp data dir; the classify labels are the five
BBC descriptions), and for each condition the benchmark prints how often the classify label is
the typed text's and the F1 of the OCR text's names against the typed text's (type and words).

    python benchmarks/ocr_bbc.py --docs 20
    python benchmarks/ocr_bbc.py --limits   # a 500-page scan, a 20,000² image, a corrupt one

``--limits`` sends the files of the issue's limits through the sandbox with the default
settings and prints what became of each, its time and the extractor's peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bbc
from PIL import Image
from rapidfuzz.distance import Levenshtein

from tests.scans import CLEAN_300, NOISY_150, Condition, render, save_pdf
from workflowd.config import ExtractSettings, OcrSettings
from workflowd.extract.sandbox import SandboxedExtractor

HARSH_150 = Condition("150 dpi, strong noise, blur 1.0, 3° rotation, JPEG 60", 150, rotate=3.0, blur=1.0,
                      noise=25.0, jpeg=60)
# (condition, file format, extra turn of the whole page in degrees: a page turned or tilted
# by hand, its corners kept, unlike Condition.rotate's few degrees inside the page)
CASES: list[tuple[Condition, str, float]] = [
    (CLEAN_300, "png", 0),
    (Condition("300 dpi, 3° rotation, blur, noise, JPEG 80", 300, rotate=3.0, blur=0.8, noise=12.0, jpeg=80), "jpg", 0),
    (Condition("300 dpi clean, page turned 90°", 300), "png", 90),
    (Condition("300 dpi photo tilted 10°, blur, noise, JPEG 80", 300, blur=0.8, noise=12.0, jpeg=80), "jpg", 10),
    (Condition("150 dpi photo tilted -14°, blur, noise, JPEG 75", 150, blur=0.6, noise=12.0, jpeg=75), "jpg", -14),
    (Condition("200 dpi photo, shadow to 40% light, tilted 6°, noise, JPEG 80", 200, noise=8.0, jpeg=80, shadow=0.6),
     "jpg", 6),
    (Condition("150 dpi clean", 150), "png", 0),
    (NOISY_150, "jpg", 0),
    (HARSH_150, "jpg", 0),
    (replace(CLEAN_300, name="300 dpi clean, image-only PDF"), "pdf", 0),
    (replace(NOISY_150, name="150 dpi, noise, blur, 2° rotation, image-only PDF"), "pdf", 0),
]


def norm(text: str) -> str:
    return " ".join(text.split())


def cer(reference: str, hypothesis: str) -> float:
    ref = norm(reference)
    return Levenshtein.distance(ref, norm(hypothesis)) / max(1, len(ref))


def write_case(text: str, condition: Condition, fmt: str, turn: float, path: Path, seed: int) -> list[Path]:
    """The scan file of ``text`` and the page images the plain command reads."""
    pages = render(text, condition, seed=seed)
    if turn:
        pages = [p.rotate(turn, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255) for p in pages]
    images = []
    for i, page in enumerate(pages):
        image = path.with_name(f"{path.stem}-p{i + 1}.{'jpg' if fmt == 'jpg' else 'png'}")
        if fmt == "jpg":
            page.save(image, "JPEG", quality=condition.jpeg or 90, dpi=(condition.dpi, condition.dpi))
        else:
            page.save(image, "PNG", dpi=(condition.dpi, condition.dpi))
        images.append(image)
    if fmt == "pdf":
        save_pdf(pages, path, condition.dpi)
    elif len(images) == 1:
        shutil.copy(images[0], path)
    else:  # a multi-page scan of an image type: a TIFF, as scanners write them
        path = path.with_suffix(".tiff")
        plain = [Image.frombytes(p.mode, p.size, p.tobytes()) for p in pages]  # without the JPEG's info
        plain[0].save(path, "TIFF", compression="tiff_lzw", dpi=(condition.dpi,) * 2, save_all=True,
                      append_images=plain[1:])
    return [path, *images]


def plain_tesseract(images: list[Path]) -> tuple[str, float]:
    start = time.perf_counter()
    texts = [subprocess.run(["tesseract", str(i), "stdout"], capture_output=True, text=True, check=True,
                            env=os.environ | {"OMP_THREAD_LIMIT": "1"}).stdout for i in images]
    return "\n".join(texts), time.perf_counter() - start


def ingest_and_compare(root: Path, typed: dict[str, str], ocr_texts: dict[str, dict[str, str]]) -> dict:
    """Ingest typed and OCR texts through the CLI; label agreement and name F1 per condition."""
    data = root / "data"
    labels = "".join(f"{k} = {json.dumps(v)}\n" for k, v in bbc.DESCRIPTIONS.items())
    config = root / "config.toml"
    config.write_text(f"data_dir = {json.dumps(str(data))}\n[steps.classify.labels]\n{labels}")
    folders = {"typed": typed, **ocr_texts}
    for i, (name, texts) in enumerate(folders.items()):
        folder = root / "texts" / f"c{i}"
        folder.mkdir(parents=True)
        for key, text in texts.items():
            (folder / f"{key}.txt").write_text(text, encoding="utf-8")
    env = os.environ | {"WORKFLOWD_CONFIG": str(config), "HF_HUB_OFFLINE": "1"}
    wf = [sys.executable, "-m", "workflowd"]
    subprocess.run([*wf, "ingest", str(root / "texts")], env=env, check=True, capture_output=True)
    docs = json.loads(subprocess.run([*wf, "list", "--json", "--limit", "100000"], env=env, check=True,
                                     capture_output=True, text=True).stdout)
    found: dict[tuple[str, str], dict] = {}
    names = list(folders)
    for d in docs:
        shown = json.loads(subprocess.run([*wf, "show", str(d["id"]), "--json"], env=env, check=True,
                                          capture_output=True, text=True).stdout)
        for where in shown["locations"] or [{"path": shown["path"]}]:  # the same text twice is one document
            path = Path(where["path"])
            found[(names[int(path.parent.name[1:])], path.stem)] = shown["results"]
    out = {}
    for name in ocr_texts:
        same_label, tp, fp, fn, exact = 0, 0, 0, 0, 0
        keys = [k for k in typed if (name, k) in found and ("typed", k) in found]
        for key in keys:
            a, b = found[("typed", key)], found[(name, key)]
            same_label += _label(a) == _label(b)
            ea, eb = _names(a), _names(b)
            tp, fp, fn = tp + len(ea & eb), fp + len(eb - ea), fn + len(ea - eb)
            exact += ea == eb
        f1 = 2 * tp / max(1, 2 * tp + fp + fn)
        out[name] = {"docs": len(keys), "same_label": same_label / max(1, len(keys)), "names_f1": round(f1, 4),
                     "same_names": exact / max(1, len(keys))}
    return out


def _label(results: dict) -> str | None:
    data = results["classify"]["data"]
    return data.get("label") or data.get("best_guess")


def _names(results: dict) -> set[tuple[str, str]]:
    return {(e["type"], norm(e["text"])) for e in results["entities"]["data"]["entities"]}


def limits() -> None:
    """The 500-page scan, the 20,000 × 20,000 image and a corrupt image, default settings."""
    from PIL import ImageDraw, ImageFont

    from tests.scans import find_font

    a = bbc.document(bbc.split(bbc.load())[1][0])
    with tempfile.TemporaryDirectory(prefix="workflowd-ocr-limits-") as tmp:
        root = Path(tmp)
        page = render(a, replace(NOISY_150, noise=0.0, jpeg=None))[0].convert("1")  # a bilevel office scan
        page.save(root / "page.png")
        scan = root / "scan-500-pages.pdf"
        page.save(scan, "PDF", resolution=150, save_all=True, append_images=[page] * 499)
        huge = Image.new("L", (20_000, 20_000), 255)
        ImageDraw.Draw(huge).text((1000, 1000), "Invoice 2041 from Northern Heating", fill=0,
                                  font=ImageFont.truetype(find_font(), 400))
        huge.save(root / "huge-20000.png")
        del huge
        (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(4000))
        with SandboxedExtractor(ExtractSettings(), root / "blobs", ocr=OcrSettings()) as sandbox:
            for name in ("scan-500-pages.pdf", "huge-20000.png", "corrupt.jpg"):
                size = (root / name).stat().st_size
                start = time.perf_counter()
                try:
                    result = sandbox.extract(root / name)
                    ocr = result.meta.get("ocr", {})
                    what = (f"a document: {len(result.text):,} characters, {ocr.get('pages_read')} page(s) OCRed, "
                            f"confidence {ocr.get('confidence')}; {ocr.get('stopped') or ''}"
                            f"{' scaled down' if ocr.get('scaled_down') else ''}")
                except Exception as exc:  # what the document's error would say
                    what = f"failed: {type(exc).__name__}: {exc}"
                secs = time.perf_counter() - start
                pid = sandbox.pid
                peak = "?"
                if pid is not None:
                    status = Path(f"/proc/{pid}/status").read_text()
                    peak = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")), "?")
                    peak = f"{int(peak) / 1024:.0f}" if peak != "?" else peak
                print(f"{name} ({size / 2**20:.1f} MB): {secs:.1f} s; {what}; the extractor process's peak RSS "
                      f"so far {peak} MB; extractor alive after it: {pid is not None}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=20, help="held-out articles per condition")
    parser.add_argument("--no-steps", action="store_true", help="skip the classify/entities comparison")
    parser.add_argument("--limits", action="store_true", help="only the limits: 500 pages, 20,000² pixels, corrupt")
    args = parser.parse_args()
    if args.limits:
        limits()
        return
    if shutil.which("tesseract") is None:
        raise SystemExit("tesseract is not installed (apt install tesseract-ocr tesseract-ocr-eng)")
    _, held_out = bbc.split(bbc.load())
    articles = held_out[:: max(1, len(held_out) // args.docs)][: args.docs]  # all five categories
    typed = {a["id"].replace("/", "-"): bbc.document(a) for a in articles}
    version = subprocess.run(["tesseract", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"{len(articles)} held-out BBC articles per condition; {version}; {os.cpu_count()} CPUs")
    results: dict = {"docs": len(articles), "tesseract": version, "conditions": {}}
    ocr_texts: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="workflowd-ocr-") as tmp:
        root = Path(tmp)
        with SandboxedExtractor(ExtractSettings(), root / "blobs", ocr=OcrSettings()) as sandbox:
            for c, (condition, fmt, turn) in enumerate(CASES):
                folder = root / f"case{c}"
                folder.mkdir()
                wf_errors = cli_errors = chars = pages = 0
                wf_secs = cli_secs = 0.0
                confidences, texts = [], {}
                for i, (key, text) in enumerate(typed.items()):
                    path, *images = write_case(text, condition, fmt, turn, folder / f"{key}.{fmt}", seed=i)
                    start = time.perf_counter()
                    result = sandbox.extract(path)
                    wf_secs += time.perf_counter() - start
                    cli_text, secs = plain_tesseract(images)
                    cli_secs += secs
                    ref = len(norm(text))
                    wf_errors += cer(text, result.text) * ref
                    cli_errors += cer(text, cli_text) * ref
                    chars += ref
                    pages += len(images)
                    confidences.append(result.meta["ocr"]["confidence"])
                    texts[key] = result.text
                ocr_texts[condition.name] = texts
                row = {"format": fmt, "pages": pages, "cer_workflowd": round(wf_errors / chars, 4),
                       "cer_plain_tesseract": round(cli_errors / chars, 4),
                       "seconds_per_page_workflowd": round(wf_secs / pages, 2),
                       "seconds_per_page_plain_tesseract": round(cli_secs / pages, 2),
                       "mean_confidence": round(statistics.mean(confidences), 1)}
                results["conditions"][condition.name] = row
                print(f"{condition.name:52s} {fmt:4s} {pages:3d} pages  CER workflowd {row['cer_workflowd']:.2%}"
                      f"  plain tesseract {row['cer_plain_tesseract']:.2%}  s/page {row['seconds_per_page_workflowd']:.2f}"
                      f" / {row['seconds_per_page_plain_tesseract']:.2f}  confidence {row['mean_confidence']}", flush=True)
        if not args.no_steps:
            start = time.perf_counter()
            steps = ingest_and_compare(root, typed, ocr_texts)
            print(f"steps on OCR text against typed text (workflowd ingest, {time.perf_counter() - start:.0f} s):")
            for name, row in steps.items():
                results["conditions"][name]["steps"] = row
                print(f"  {name:52s} same label {row['same_label']:.1%}  names F1 {row['names_f1']:.4f}"
                      f"  same names {row['same_names']:.1%} ({row['docs']} docs)")
    print(f"saved {bbc.save_results('ocr_bbc', results)}")


if __name__ == "__main__":
    main()

"""Scans dropped into a watched folder become documents like the typed text (real daemon,
real Tesseract, the bundled models): same classify label, same names."""

from __future__ import annotations

import pytest

from tests.conftest import Env, base_config
from tests.daemon.helpers import all_settled, query, wait_for
from tests.extract.test_ocr import LETTER, LONG, _many_page_scan, _tesseract_problem
from tests.scans import CLEAN_300, NOISY_150, render, save_pdf, save_tiff

pytestmark = pytest.mark.skipif(bool(_tesseract_problem()), reason=_tesseract_problem() or "")


def _label(doc: dict) -> str | None:
    data = doc["results"]["classify"]["data"]
    return data["label"] or data.get("best_guess")


def _names(doc: dict) -> set[tuple[str, str]]:
    return {(e["type"], " ".join(e["text"].split())) for e in doc["results"]["entities"]["data"]["entities"]}


def test_scans_dropped_in_a_folder_match_the_typed_text(wf_env: Env) -> None:
    env = wf_env
    env.write_config(base_config(env.data_dir, env.inbox, "[ocr]\nmax_pages = 2"))
    env.run("start")
    typed = {"letter.txt": LETTER, "long.txt": LONG}
    for name, text in typed.items():
        (env.inbox / name).write_text(text)
    letter_page = render(LETTER, CLEAN_300)[0]
    letter_page.save(env.inbox / "letter.png", dpi=(300, 300))
    render(LETTER, NOISY_150)[0].save(env.inbox / "photo.jpg", quality=70)
    save_tiff(render(LONG, CLEAN_300), env.inbox / "fax.tiff", 300)
    save_pdf(render(LETTER, NOISY_150), env.inbox / "scan.pdf", 150)
    (env.inbox / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    archive = _many_page_scan(env.root, 500)
    archive.rename(env.inbox / "archive.pdf")
    wait_for(lambda: all_settled(env, 8), 240, "eight documents done or failed")

    docs = {d["name"]: env.json("show", str(d["id"])) for d in env.json("list")}
    assert docs["broken.png"]["status"] == "failed"
    assert docs["broken.png"]["error"].startswith("damaged image: its header names an image type")
    archive_doc = docs["archive.pdf"]
    assert archive_doc["status"] == "done"
    assert archive_doc["meta"]["ocr"]["stopped"] == "OCR stopped after 2 of 500 pages (ocr.max_pages = 2)"

    expected = {"letter.png": "letter.txt", "photo.jpg": "letter.txt", "scan.pdf": "letter.txt", "fax.tiff": "long.txt"}
    for scan, source in expected.items():
        doc, typed_doc = docs[scan], docs[source]
        assert doc["status"] == "done", (scan, doc["error"])
        assert doc["meta"]["ocr"]["confidence"] > 80
        assert _label(doc) == _label(typed_doc), scan
        assert _names(doc) == _names(typed_doc), scan
    assert len(_names(docs["letter.txt"])) >= 5  # the comparison has names to compare
    assert docs["fax.tiff"]["meta"]["pages"] == 2
    weak = {d["name"] for d in env.json("list", "--ocr-below", "99")}  # every scan, no typed text
    assert weak == {"letter.png", "photo.jpg", "fax.tiff", "scan.pdf", "archive.pdf"}
    assert env.json("list", "--ocr-below", "10") == []
    shown = env.run("show", str(docs["fax.tiff"]["id"])).stdout
    assert "ocr: Tesseract (eng), 2 page(s) read, mean word confidence " in shown
    assert "OCR stopped after 2 of 500 pages (ocr.max_pages = 2)" in env.run("show", str(archive_doc["id"])).stdout
    assert env.json("status")["running"]
    assert not query(env, "SELECT id FROM jobs WHERE status = 'running'")


def test_a_daemon_without_tesseract_says_so_fails_only_the_scans_and_retries_them(wf_env: Env) -> None:
    env = wf_env
    env.write_config(base_config(env.data_dir, env.inbox, f'[ocr]\ntesseract = "{env.root / "no-tesseract"}"'))
    env.run("start")
    render(LETTER, NOISY_150)[0].save(env.inbox / "scan.png")
    (env.inbox / "note.txt").write_text("Typed text still works.")
    wait_for(lambda: all_settled(env, 2), 120, "two documents done or failed")
    docs = {d["name"]: d for d in env.json("list")}
    assert docs["note.txt"]["status"] == "done"
    scan_id = str(docs["scan.png"]["id"])
    failed = env.json("show", scan_id)
    assert failed["status"] == "failed"
    assert failed["error"].startswith(f"OCR needs Tesseract, and '{env.root / 'no-tesseract'}' was not found")
    log = (env.data_dir / "logs" / "workflowd.log").read_text()
    assert "OCR needs Tesseract" in log and "until then images and scanned PDF pages fail with this reason" in log
    assert env.json("status")["running"]

    # a reload says it too: here Tesseract is found, but a language of the new config is not
    log_path = env.data_dir / "logs" / "workflowd.log"
    env.write_config(base_config(env.data_dir, env.inbox, '[ocr]\nlanguages = "eng+xyz"'))
    env.run("reload")
    wait_for(lambda: log_path.read_text().count("configuration reloaded") == 1, 30, "the first reload")
    assert "Tesseract has no xyz language data" in log_path.read_text()

    # Tesseract "installed": the config fixed, the daemon reloaded, the failed scan retried
    env.write_config(base_config(env.data_dir, env.inbox))
    env.run("reload")
    wait_for(lambda: log_path.read_text().count("configuration reloaded") == 2, 30, "the second reload")
    assert env.json("retry") == [int(scan_id)]
    wait_for(lambda: env.json("show", scan_id)["status"] == "done", 120, "the retried scan done")
    done = env.json("show", scan_id)
    assert done["error"] is None and done["meta"]["ocr"]["confidence"] > 80
    assert "Northern Heating Ltd" in " ".join(done["text"].split())
    assert env.run("retry").stdout.strip() == "no failed document to retry"

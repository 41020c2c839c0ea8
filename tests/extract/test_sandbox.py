"""SandboxedExtractor: the child process, its time and memory limits, and recovery."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from workflowd.config import ExtractSettings
from workflowd.errors import ContentChanged, ExtractionCrashed, ExtractionError
from workflowd.extract import SandboxedExtractor

from .conftest import make_pdf
from .test_core import sparse_file

SLOW_HTML = "<html><body>" + "<div><p>word <b>bold</b></p></div>\n" * 400_000 + "</body></html>"  # ~14 MB


@pytest.fixture
def sandbox(settings: ExtractSettings, blob_dir: Path):
    with SandboxedExtractor(settings, blob_dir) as extractor:
        yield extractor


def test_extracts_in_a_reused_child(sandbox: SandboxedExtractor, write) -> None:
    first = sandbox.extract(write("a.txt", "hello"))
    pid = sandbox.pid
    second = sandbox.extract(write("b.pdf", make_pdf(["pdf text"])))
    assert (first.text, first.media_type) == ("hello", "text/plain")
    assert "pdf text" in second.text
    assert pid is not None and sandbox.pid == pid and pid != os.getpid()


def test_bad_input_is_an_extraction_error_and_keeps_the_child(sandbox, write) -> None:
    sandbox.extract(write("a.txt", "warm up"))
    pid = sandbox.pid
    with pytest.raises(ExtractionError, match="^unsupported file type: application/x-7z") as info:
        sandbox.extract(write("x.7z", b"7z\xbc\xaf\x27\x1c" + b"\x00" * 64))
    assert not isinstance(info.value, ExtractionCrashed)
    assert sandbox.pid == pid


def test_size_and_empty_checks_happen_before_the_child(sandbox, write, tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match=r"^file is 150\.0 MB, over the limit of 100 MB"):
        sandbox.extract(sparse_file(tmp_path / "big.pdf", 150 * 1024 * 1024))
    with pytest.raises(ExtractionError, match=r"^empty file \(0 bytes\)$"):
        sandbox.extract(write("empty.txt", b""))
    assert sandbox.pid is None  # no child was needed


def test_missing_file(sandbox, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        sandbox.extract(tmp_path / "nope.txt")


def test_expected_sha256_mismatch(sandbox, write) -> None:
    path = write("a.txt", "new content")
    with pytest.raises(ContentChanged, match="^the file changed after it was queued$"):
        sandbox.extract(path, expected_sha256="0" * 64)
    digest = hashlib.sha256(b"new content").hexdigest()
    assert sandbox.extract(path, expected_sha256=digest).text == "new content"


def test_timeout_kills_the_child_and_the_next_file_works(write, blob_dir: Path) -> None:
    slow = write("slow.html", SLOW_HTML)  # several seconds of parsing and layout
    with SandboxedExtractor(ExtractSettings(timeout=0.5), blob_dir) as sandbox:
        sandbox.extract(write("warm.txt", "warm up"))
        pid = sandbox.pid
        started = time.monotonic()
        with pytest.raises(ExtractionCrashed, match=r"^extraction timed out after 0\.5 s$"):
            sandbox.extract(slow)
        assert time.monotonic() - started < 3
        assert sandbox.pid is None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # killed and reaped
        assert sandbox.extract(write("after.txt", "fine")).text == "fine"


def test_memory_limit(write, blob_dir: Path) -> None:
    big = write("big.txt", b"hello world \xe9\n" * 5_000_000)  # 70 MB of cp1252 text
    settings = ExtractSettings(max_memory_mb=200, timeout=60)
    with SandboxedExtractor(settings, blob_dir) as sandbox:
        with pytest.raises(ExtractionCrashed) as info:
            sandbox.extract(big)
        assert str(info.value) == "extraction ran out of memory (limit 200 MB, extract.max_memory_mb)"
        assert sandbox.extract(write("small.txt", "still works")).text == "still works"


def test_child_killed_while_idle_is_replaced(sandbox, write) -> None:
    sandbox.extract(write("a.txt", "one"))
    pid = sandbox.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.2)
    assert sandbox.extract(write("b.txt", "two")).text == "two"
    assert sandbox.pid not in (None, pid)


def test_child_killed_mid_extraction(write, blob_dir: Path) -> None:
    slow = write("slow.html", SLOW_HTML)
    with SandboxedExtractor(ExtractSettings(timeout=60), blob_dir) as sandbox:
        sandbox.extract(write("warm.txt", "warm up"))
        pid = sandbox.pid
        assert pid is not None
        timer = threading.Timer(0.3, os.kill, (pid, signal.SIGKILL))
        timer.start()
        with pytest.raises(ExtractionCrashed, match=r"^extractor process died \(signal 9\)$"):
            sandbox.extract(slow)
        timer.join()
        assert sandbox.extract(write("after.txt", "recovered")).text == "recovered"


def test_kill_from_another_thread_interrupts_a_call(write, blob_dir: Path) -> None:
    slow = write("slow.html", SLOW_HTML)
    with SandboxedExtractor(ExtractSettings(timeout=60), blob_dir) as sandbox:
        sandbox.extract(write("warm.txt", "warm up"))
        timer = threading.Timer(0.3, sandbox.kill)
        timer.start()
        started = time.monotonic()
        with pytest.raises(ExtractionCrashed, match=r"^extractor process died \(signal 9\)$"):
            sandbox.extract(slow)
        timer.join()
        assert time.monotonic() - started < 3
        sandbox.kill()  # no child: nothing to do
        assert sandbox.extract(write("after.txt", "fresh child")).text == "fresh child"


def test_close_stops_the_child(settings: ExtractSettings, blob_dir: Path, write) -> None:
    sandbox = SandboxedExtractor(settings, blob_dir)
    sandbox.extract(write("a.txt", "x"))
    pid = sandbox.pid
    sandbox.close()
    assert sandbox.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert sandbox.extract(write("b.txt", "lazy restart")).text == "lazy restart"
    sandbox.close()


def test_attachments_come_back_from_the_child(sandbox, write, blob_dir: Path) -> None:
    raw = (b"From: a@b.c\nTo: d@e.f\nSubject: files\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\nbody\n"
           b"--XX\nContent-Type: application/octet-stream\nContent-Disposition: attachment; "
           b"filename=\"../../etc/passwd\"\n\nroot\n--XX--\n")
    result = sandbox.extract(write("m.eml", raw))
    assert [a.name for a in result.attachments] == ["passwd"]
    assert Path(result.attachments[0].path).resolve().is_relative_to(blob_dir.resolve())


def _switches(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches:" in line)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_idle_child_sleeps(sandbox, write) -> None:
    sandbox.extract(write("a.txt", "x"))
    pid = sandbox.pid
    before = _switches(pid)
    time.sleep(1.0)
    assert _switches(pid) - before <= 1  # blocked on stdin: no periodic wake-ups


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")
def test_child_gets_a_scrubbed_environment(
    write, blob_dir: Path, settings: ExtractSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKFLOWD_IMAP_PASSWORD", "hunter2")
    monkeypatch.setenv("WORKFLOWD_HOOK_SECRET", "whsec_abc")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "key")
    monkeypatch.setenv("TESSDATA_PREFIX", "/usr/share/tesseract-ocr/5/tessdata")
    monkeypatch.setenv("OMP_THREAD_LIMIT", "1")
    monkeypatch.setenv("LC_CTYPE", "C.UTF-8")
    with SandboxedExtractor(settings, blob_dir) as sandbox:
        assert sandbox.extract(write("a.txt", "hello")).text == "hello"
        raw = Path(f"/proc/{sandbox.pid}/environ").read_bytes()
    env = dict(item.split(b"=", 1) for item in raw.split(b"\0") if item)
    assert b"hunter2" not in raw and b"whsec_abc" not in raw
    assert not {b"WORKFLOWD_IMAP_PASSWORD", b"WORKFLOWD_HOOK_SECRET", b"AWS_SECRET_ACCESS_KEY"} & set(env)
    assert env[b"TESSDATA_PREFIX"] == b"/usr/share/tesseract-ocr/5/tessdata"
    assert env[b"OMP_THREAD_LIMIT"] == b"1" and env[b"LC_CTYPE"] == b"C.UTF-8"
    assert env[b"PATH"] == os.environb[b"PATH"]
    assert env[b"PYTHONPATH"].split(b":")[0] == os.fsencode(Path(__file__).resolve().parents[2])


def test_a_name_that_is_not_utf8_reaches_the_child_byte_for_byte(sandbox, tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path)
    for name in (b"caf\xe9.txt", b"two\nlines.txt", b"\xff" * 251 + b".txt"):
        path = Path(os.fsdecode(folder + b"/" + name))
        path.write_bytes(b"content of " + name[:4].replace(b"\n", b" ").hex().encode())
        assert sandbox.extract(path).text == "content of " + name[:4].replace(b"\n", b" ").hex()
    with pytest.raises(FileNotFoundError):
        sandbox.extract(Path(os.fsdecode(folder + b"/gone \xe9.txt")))


EXTRACTOR_PLUGIN = '''
from workflowd import Extraction, Extractor, hookimpl
from workflowd.errors import ExtractionError


def read_notes(data, settings, blob_dir):
    if not data.startswith(b"NOTE1"):
        raise ExtractionError("not a note file")
    return Extraction(media_type="application/x-note", text=data[5:].decode("utf-8").strip(), title="a note")


@hookimpl
def register_extractors():
    return [Extractor(media_types=("application/x-note",), extract=read_notes, suffixes=(".note",))]
'''


def test_a_plugin_adds_an_extractor_in_the_sandbox(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir(mode=0o700)
    (plugins / "notes.py").write_text(EXTRACTOR_PLUGIN)
    (plugins / "notes.py").chmod(0o600)
    note = tmp_path / "shopping.note"
    note.write_bytes(b"NOTE1 milk, eggs and bread\n")  # text: a plugin's ending wins over plain text
    plain = tmp_path / "plain.txt"
    plain.write_text("an ordinary text")
    with SandboxedExtractor(ExtractSettings(), tmp_path / "blobs", plugins) as ex:
        result = ex.extract(note)
        assert (result.media_type, result.text, result.title) == ("application/x-note", "milk, eggs and bread",
                                                                  "a note")
        assert ex.extract(plain).text == "an ordinary text"  # workflowd's own extractors still come first
        bad = tmp_path / "broken.note"
        bad.write_bytes(b"garbage \x01\x02")
        with pytest.raises(ExtractionError, match="not a note file"):
            ex.extract(bad)
    with SandboxedExtractor(ExtractSettings(), tmp_path / "blobs") as ex:
        assert ex.extract(note).media_type == "text/plain"  # without the plugin: plain text

"""Extraction in a long-lived child process, under a time limit per file and a memory limit.

Parsers of hostile files can loop, eat memory or crash; here that costs a child process, not
the daemon. The child (:mod:`workflowd.extract.child`) is started lazily, reused between files
and replaced after a timeout, a crash or running out of memory.
"""

from __future__ import annotations

import base64
import json
import os
import select
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ..config import ExtractSettings, OcrSettings
from ..errors import ExtractionCrashed, ExtractionError
from ..filenames import display
from .core import check_size
from .protocol import parse_line, response_to_result
from .result import Extraction

__all__ = ["CHILD_ENV", "SandboxedExtractor", "child_environment"]

_STARTUP_TIMEOUT = 60.0  # seconds a fresh child may take to import its parsers
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


# What the child may see of the daemon's environment: what Python and the parsers need, and
# the settings of tools a parser may call (tesseract for OCR). Nothing else: the daemon's
# environment holds secrets (IMAP passwords, webhook tokens) that a parser has no use for.
CHILD_ENV = (
    "PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
    "PYTHONHOME", "PYTHONUTF8", "PYTHONIOENCODING", "PYTHONDONTWRITEBYTECODE", "PYTHONNOUSERSITE",
    "VIRTUAL_ENV", "LD_LIBRARY_PATH",
    "TESSDATA_PREFIX", "OMP_THREAD_LIMIT", "OMP_NUM_THREADS",
)
CHILD_ENV_PREFIXES = ("LC_",)


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The extractor child's environment: ``CHILD_ENV`` and the locale (``LC_*``) from
    ``environ`` (default: this process's), and a PYTHONPATH that finds workflowd first."""
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if k in CHILD_ENV or k.startswith(CHILD_ENV_PREFIXES)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, environ.get("PYTHONPATH")) if p)
    return env


class SandboxedExtractor:
    """Extract files in a child process; safe for one thread at a time (calls are serialised)."""

    def __init__(self, settings: ExtractSettings, blob_dir: Path, plugins_dir: Path | None = None,
                 ocr: OcrSettings | None = None):
        """``plugins_dir``: the plugins folder, whose plugins may add extractors; ``ocr``: how
        images and scanned pages are read (a file being OCRed gets ``ocr.timeout`` more seconds)."""
        self.settings = settings
        self.ocr = ocr or OcrSettings()
        self.blob_dir = Path(os.path.abspath(blob_dir))
        self.plugins_dir = plugins_dir
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._buffer = bytearray()

    @property
    def pid(self) -> int | None:
        """The child's process id, or None when no child is running."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def extract(self, path: Path, expected_sha256: str | None = None) -> Extraction:
        """Extract one file; ExtractionError for bad content, ExtractionCrashed for timeouts and crashes."""
        path = Path(os.path.abspath(path))
        info = path.stat()  # FileNotFoundError / PermissionError: the caller may retry later
        if not stat.S_ISREG(info.st_mode):
            raise ExtractionError(f"not a regular file: {path}")
        check_size(info.st_size, self.settings)
        request = {
            "path": display(path),  # for people reading a request; the child opens path_b64
            "path_b64": base64.b64encode(os.fsencode(path)).decode("ascii"),  # the exact bytes of any name
            "settings": self.settings.model_dump(mode="json"),
            "ocr": self.ocr.model_dump(mode="json"),
            "blob_dir": str(self.blob_dir),
        }
        with self._lock:
            response = self._exchange(request)
            if response.get("kind") == "memory":
                self._kill()  # a heap that hit its ceiling is not worth keeping
        return response_to_result(response, expected_sha256, self.settings.max_memory_mb)

    def close(self) -> None:
        """Stop the child: close its stdin so that it exits, and kill it if it does not."""
        with self._lock:
            proc = self._proc
            if proc is not None and proc.poll() is None and proc.stdin is not None:
                try:
                    proc.stdin.close()
                    proc.wait(timeout=2)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()

    def kill(self) -> None:
        """Kill the child now, from any thread and without waiting for a call in progress.

        That call raises ExtractionCrashed ("extractor process died (signal 9)"); the next one
        starts a fresh child. Meant for a daemon whose stop timed out.
        """
        proc = self._proc
        if proc is not None:
            try:
                proc.send_signal(signal.SIGKILL)
            except OSError:
                pass

    def __enter__(self) -> SandboxedExtractor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- the child process -------------------------------------------------------------

    def _exchange(self, request: dict[str, Any]) -> dict[str, Any]:
        """Send one request and wait for its response, restarting a dead child once."""
        line = json.dumps(request).encode("utf-8") + b"\n"
        for attempt in (1, 2):
            proc = self._ensure_child()
            try:
                assert proc.stdin is not None
                proc.stdin.write(line)
                proc.stdin.flush()
                break
            except OSError:  # the child died while idle: start another and resend
                self._kill()
                if attempt == 2:
                    raise ExtractionCrashed("extractor process could not be started") from None
        try:
            started = time.monotonic()
            message = self._read_response(started + self.settings.timeout, self.settings.timeout)
            if message.get("ocr") is True:  # the file needs OCR: its own time on top
                timeout = self.settings.timeout + self.ocr.timeout
                message = self._read_response(started + timeout, timeout)
            return message
        except ExtractionCrashed:
            raise
        except BaseException:  # interrupted mid-request: the child's answer must not reach the next call
            self._kill()
            raise

    def _ensure_child(self) -> subprocess.Popen[bytes]:
        """The running child, started (and waited for) if there is none."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        self._kill()
        env = child_environment()
        memory_mb = self.settings.max_memory_mb
        self._stderr = tempfile.TemporaryFile(prefix="workflowd-extract-")
        cmd = [sys.executable, "-m", "workflowd.extract.child", "--max-memory-mb", str(memory_mb)]
        if self.plugins_dir is not None:
            cmd += ["--plugins-dir", str(self.plugins_dir)]
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                bufsize=0,
                cwd=_PACKAGE_ROOT,
                env=env,
                close_fds=True,
                start_new_session=True,  # signals meant for the daemon's terminal do not reach it
            )
        except BaseException:
            self._stderr.close()
            self._stderr = None
            raise
        try:
            self._await_greeting()
        except ExtractionCrashed as exc:
            raise ExtractionCrashed(f"extractor process failed to start: {exc}") from None
        except BaseException:  # interrupted while starting: never leave a half-started child behind
            self._kill()
            raise
        return self._proc

    def _read_line(self, deadline: float, timeout: float) -> bytes:
        """One line from the child, waiting with poll() until ``deadline`` (then killing it)."""
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        fd = proc.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        searched = 0
        while (end := self._buffer.find(b"\n", searched)) < 0:
            searched = len(self._buffer)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._kill()
                raise ExtractionCrashed(f"extraction timed out after {timeout:g} s")
            if not poller.poll(max(1, int(remaining * 1000 + 1))):
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise ExtractionCrashed(self._death())
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def _read_response(self, deadline: float, timeout: float) -> dict[str, Any]:
        """One JSON object from the child; anything else means the protocol is broken."""
        message = parse_line(self._read_line(deadline, timeout))
        if message is None:
            self._kill()
            raise ExtractionCrashed("extractor process sent a malformed response")
        return message

    def _await_greeting(self) -> None:
        """Wait for the child's ``ready`` line, skipping anything printed while it imported."""
        deadline = time.monotonic() + _STARTUP_TIMEOUT
        while not (parse_line(self._read_line(deadline, _STARTUP_TIMEOUT)) or {}).get("ready"):
            pass

    def _death(self) -> str:
        """Reap a child whose output ended and say how it died."""
        proc = self._proc
        code = proc.wait() if proc is not None else None
        tail = self._stderr_tail()
        self._kill()
        if code is not None and code < 0:
            return f"extractor process died (signal {-code})"
        return f"extractor process exited unexpectedly (status {code}){tail}"

    def _kill(self) -> None:
        """SIGKILL and reap the child, if any, and close its pipes."""
        proc, self._proc = self._proc, None
        self._buffer.clear()
        if proc is not None:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    try:
                        pipe.close()
                    except OSError:
                        pass
        if self._stderr is not None and proc is not None:
            self._stderr.close()
            self._stderr = None

    def _stderr_tail(self) -> str:
        """The last line the child wrote to stderr, as a suffix for error messages."""
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(max(0, os.fstat(self._stderr.fileno()).st_size - 2000))
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return f" ({lines[-1].strip()[:300]})" if lines else ""

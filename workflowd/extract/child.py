"""The extractor child process: ``python -m workflowd.extract.child --max-memory-mb N``.

Started by :class:`~workflowd.extract.sandbox.SandboxedExtractor`. It speaks JSON lines: one
request per line on stdin (``path_b64``, the path's exact bytes, else ``path``; ``settings``,
``ocr``, ``blob_dir``), one response per line on the
real stdout (``{"ok": true, "extraction": {...}}`` or ``{"ok": false, "kind", "message"}``),
preceded by ``{"ocr": true}`` when the file needs OCR (the parent then allows ``ocr.timeout``
more seconds).
File descriptor 1 is pointed at stderr so that nothing a library prints can corrupt the
protocol. An address-space limit turns memory exhaustion into MemoryError and a response.
An idle child blocks on reading stdin; it exits when stdin closes. While it works on a file,
an alarm set a little past the parent's timeout ends it should the parent have gone away.
"""

from __future__ import annotations

import argparse
import functools
import base64
import gc
import json
import logging
import os
import resource
import signal
import sys
import warnings
from pathlib import Path
from typing import IO, Any

from ..config import ExtractSettings, OcrSettings
from ..errors import ExtractionError
from ..filenames import display
from .textutil import short_reason

_BACKSTOP_GRACE = 30  # seconds past the timeout after which the child kills itself (parent gone)


def main(argv: list[str] | None = None) -> int:
    """Serve extraction requests until stdin closes."""
    parser = argparse.ArgumentParser(prog="python -m workflowd.extract.child")
    parser.add_argument("--max-memory-mb", type=int, required=True)
    parser.add_argument("--plugins-dir", type=Path, help="where the plugins that add extractors are")
    args = parser.parse_args(argv)
    protocol = _take_stdout()
    # Tesseract (OCR) runs from here: its own threads would only compete with the daemon's
    # model threads, so one per page unless the person set otherwise.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    _quiet_libraries()
    from .core import extract_file, plugin_extractors  # imported before the memory limit is set

    extra = _plugins(plugin_extractors, args.plugins_dir)
    if extra:
        extract_file = functools.partial(extract_file, extra=extra)
    _preload()
    _limit_resources(args.max_memory_mb)
    _send(protocol, {"ready": True, "pid": os.getpid()})
    for line in sys.stdin.buffer:
        if line.strip():
            _send(protocol, _handle(line, extract_file, args.max_memory_mb, protocol))
    return 0


def _plugins(load: Any, plugins_dir: Path | None) -> list[Any]:
    """The plugins' extractors; a plugin that fails here (the daemon loaded it already) costs
    only its extractors, with the reason on stderr."""
    try:
        return load(plugins_dir)
    except Exception as exc:
        sys.stderr.write(f"workflowd extractor: plugins not loaded, their file types are not read: {exc}\n")
        return []


def _take_stdout() -> IO[bytes]:
    """Keep the real stdout for the protocol; point fd 1 (and ``sys.stdout``) at stderr."""
    sys.stdout.flush()  # anything printed so far goes out before the greeting
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return protocol


def _quiet_libraries() -> None:
    """Library warnings would only be noise on stderr; the parent reports failures itself."""
    warnings.simplefilter("ignore")
    logging.getLogger("pypdf").setLevel(logging.CRITICAL + 1)
    logging.getLogger().setLevel(logging.CRITICAL)


def _preload() -> None:
    """Import the lazily imported parsers now, while memory is not yet limited."""
    import charset_normalizer  # noqa: F401
    import docx  # noqa: F401
    import pypdf  # noqa: F401
    from docx.table import Table  # noqa: F401
    from pypdf import PasswordType, PdfReader  # noqa: F401
    import pypdfium2  # noqa: F401
    import pytesseract  # noqa: F401
    from PIL import Image, ImageOps, JpegImagePlugin, PngImagePlugin, TiffImagePlugin, WebPImagePlugin  # noqa: F401

    Image.init()
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        pass
    else:
        register_heif_opener()


def _limit_resources(max_memory_mb: int) -> None:
    """No core dumps; an address-space ceiling so that runaway parsers get MemoryError."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    limit = max_memory_mb * 1024 * 1024
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _handle(line: bytes, extract_file: Any, max_memory_mb: int, protocol: IO[bytes] | None = None) -> dict[str, Any]:
    """Answer one request line with a response dict (never raises, except on exit)."""
    try:
        request = json.loads(line)
        blob_dir = Path(request["blob_dir"])
        if "path_b64" in request:  # the exact bytes: a file name need not be UTF-8
            path = Path(os.fsdecode(base64.b64decode(request["path_b64"], validate=True)))
        else:
            path = Path(request["path"])
        settings = ExtractSettings(**request["settings"])
        ocr = OcrSettings(**request.get("ocr", {}))
    except Exception as exc:
        return {"ok": False, "kind": "protocol", "message": f"bad request: {short_reason(exc)}"}
    out_of_memory = False
    response: dict[str, Any] = {}
    try:
        signal.alarm(int(settings.timeout) + _BACKSTOP_GRACE)

        def ocr_started() -> None:  # the parent allows ocr.timeout more; so does the backstop
            signal.alarm(int(settings.timeout + ocr.timeout) + _BACKSTOP_GRACE)
            if protocol is not None:
                _send(protocol, {"ocr": True})

        extraction = extract_file(path, settings, blob_dir, ocr=ocr, on_ocr=ocr_started)
        response = {"ok": True, "extraction": extraction.to_dict()}
    except MemoryError:
        out_of_memory = True  # answered below, once the frames holding the memory are gone
    except ExtractionError as exc:
        response = {"ok": False, "kind": "extraction", "message": str(exc)}
    except OSError as exc:
        response = {"ok": False, "kind": "os", "errno": exc.errno, "message": exc.strerror or str(exc),
                    "filename": display(exc.filename) if exc.filename else None}
    except Exception as exc:
        response = {"ok": False, "kind": "internal", "message": f"{type(exc).__name__}: {short_reason(exc)}"}
    finally:
        signal.alarm(0)
    if out_of_memory:
        gc.collect()
        response = {"ok": False, "kind": "memory", "message": f"out of memory (limit {max_memory_mb} MB)"}
    return response


def _send(protocol: IO[bytes], message: dict[str, Any]) -> None:
    """Write one response line; a response too big to encode becomes an out-of-memory answer."""
    data = b""
    try:
        data = json.dumps(message).encode("utf-8") + b"\n"
    except MemoryError:
        pass
    except Exception as exc:  # not JSON-serialisable: a bug, reported rather than crashing
        failure = {"ok": False, "kind": "internal", "message": f"cannot encode result: {exc}"}
        data = json.dumps(failure).encode() + b"\n"
    if not data:
        gc.collect()
        data = b'{"ok": false, "kind": "memory", "message": "out of memory while sending the result"}\n'
    protocol.write(data)
    protocol.flush()


if __name__ == "__main__":
    sys.exit(main())

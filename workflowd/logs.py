"""Logging to a rotating file in the data dir (and to stderr when running in the foreground)."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str, log_path: Path | None, *, stderr: bool) -> None:
    root = logging.getLogger("workflowd")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    root.propagate = False
    formatter = logging.Formatter(FORMAT)
    if log_path is not None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        # backslashreplace: a record holding an undecodable file name is written, not dropped
        file_handler = logging.handlers.RotatingFileHandler(
            log_path, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8", errors="backslashreplace"
        )
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    if stderr:
        stream = logging.StreamHandler(sys.stderr)
        stream.setFormatter(formatter)
        root.addHandler(stream)

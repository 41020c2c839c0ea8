"""Labelled data files for training and evaluation: JSONL objects with their line numbers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .errors import DataError


def read_jsonl(path: Path) -> tuple[list[tuple[int, dict]], str]:
    """The objects of a JSONL file with their line numbers, and the file's sha256."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    rows = []
    for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise DataError(f'{path}, line {number}: expected an object with a "text" string')
        rows.append((number, row))
    if not rows:
        raise DataError(f"{path} holds no examples")
    return rows, hashlib.sha256(raw).hexdigest()

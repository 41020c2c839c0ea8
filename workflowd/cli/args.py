"""Argument types that check their range, so that a bad number is a clear usage error."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_ID = 2**63 - 1  # SQLite's largest integer


def _number(kind: type, ok: Callable[[float], bool], what: str) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not math.isfinite(value) or not ok(value):
            raise argparse.ArgumentTypeError(f"{text} is not {what}")
        return value

    return parse


positive_int = _number(int, lambda v: v >= 1, "a whole number of at least 1")
non_negative_int = _number(int, lambda v: v >= 0, "a whole number of at least 0")
document_id = _number(int, lambda v: 1 <= v <= MAX_ID, "a document id (a whole number from 1)")
correction_id = _number(int, lambda v: 1 <= v <= MAX_ID, "a correction id (a whole number from 1)")
alert_id = _number(int, lambda v: 1 <= v <= MAX_ID, "an alert id (a whole number from 1)")
positive_float = _number(float, lambda v: v > 0, "a number above 0")
fraction = _number(float, lambda v: 0 <= v <= 1, "a number from 0 to 1")
share = _number(float, lambda v: 0 <= v < 1, "a share from 0 up to (not including) 1")

"""Console output: rich for people, plain JSON for scripts, plain lines for errors."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

# soft_wrap: long lines (paths) are not broken at the terminal width; tables still fit it.
console = Console(highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def error(message: str) -> None:
    """One error for the person at the terminal, unwrapped so that paths stay whole."""
    sys.stderr.write(f"workflowd: {message}\n")
    sys.stderr.flush()

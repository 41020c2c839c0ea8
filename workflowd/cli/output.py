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


def quiet_libraries() -> None:
    """The libraries' own warnings (FutureWarning, deprecations, transformers' advice) are for
    their users, not for a person running workflowd: the terminal shows workflowd's messages.
    ``PYTHONWARNINGS`` still turns them back on."""
    import logging
    import os
    import warnings

    if not os.environ.get("PYTHONWARNINGS"):
        warnings.simplefilter("ignore")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for name in ("transformers", "peft", "torch", "huggingface_hub", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)

"""The built-in ``document_processed`` hook that runs the rules; it never raises into the worker."""

from __future__ import annotations

import functools
import logging
from typing import Any

from ..alerts.make import make_alert
from ..hookspecs import hookimpl
from .engine import apply_rules

log = logging.getLogger("workflowd.rules")


@hookimpl(tryfirst=True)
def document_processed(document: Any, results: dict[str, Any], store: Any, settings: Any) -> None:
    """Apply the configured rules to the document just stored (before the surges look at it)."""
    if not settings.rules or document.id is None:
        return
    try:
        apply_rules(store, settings, document.id, results=results,
                    alert=functools.partial(make_alert, store, settings))
    except Exception:
        log.exception("rules could not run on document %s", document.id)

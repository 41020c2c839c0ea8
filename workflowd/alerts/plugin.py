"""The built-in ``document_processed`` hook of alerts: every configured surge, after the rules."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..hookspecs import hookimpl
from .surges import watch

if TYPE_CHECKING:  # config imports alerts.settings: at run time this would be a cycle
    from ..config import Settings
    from ..store import Store

log = logging.getLogger("workflowd.alerts")


@hookimpl
def document_processed(document: Any, results: dict[str, Any], store: Store, settings: Settings) -> None:
    """Test each surge on a document with a sentiment result; a surge that fails is logged and the
    others still run (the worker never sees an error from here)."""
    if not settings.surges or "sentiment" not in results:
        return
    for surge in settings.surges:
        try:
            watch(store, settings, surge, doc_id=document.id, source=document.source, results=results)
        except Exception:
            log.exception("surge %s failed on document %s", surge.name, getattr(document, "id", None))

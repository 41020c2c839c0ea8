"""Making an alert: it is stored with one outbox row per notifier in one transaction, logged, and
the delivery thread is woken. Rules (``notify``) and surges both come here."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # config imports the settings of rules and alerts: no cycle at run time
    from ..config import Settings
    from ..store import Store

log = logging.getLogger("workflowd.alerts")

# Set when an outbox row is written; the delivery thread of this process waits on it.
OUTBOX_CHANGED = threading.Event()

_LOG_LEVELS = {"info": logging.INFO, "warning": logging.WARNING, "critical": logging.CRITICAL}


def make_alert(
    store: Store,
    settings: Settings,
    *,
    kind: str,
    name: str,
    level: str,
    message: str,
    reason: str,
    documents: list[int],
    notify: list[str],
    scope: str | None = None,
    document_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Store an alert (``kind`` rule or surge) and its deliveries; returns the alert's id.

    Each delivery's body is fixed now (``{type, timestamp, data}``), so every retry sends the
    same bytes with the same ``webhook-id``."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    created_at = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    summary = ("id", "name", "title", "path", "source", "media_type", "sha256")
    docs = [{k: d[k] for k in summary} for d in store.documents.list(ids=documents)] if documents else []
    data = {
        "kind": kind,
        "name": name,
        "level": level,
        "message": message,
        "reason": reason,
        "scope": scope,
        "documents": docs,
        "created_at": created_at,
    }
    deliveries = [(notifier, f"msg_{uuid.uuid4().hex}") for notifier in notify]

    def body(alert_id: int) -> str:
        event = {"type": f"workflowd.alert.{kind}", "timestamp": created_at, "data": {"id": alert_id, **data}}
        return json.dumps(event, ensure_ascii=False, sort_keys=True)

    alert_id = store.alerts.add(
        kind=kind, name=name, level=level, message=message, reason=reason, documents=documents, scope=scope,
        document_id=document_id, payload=data, deliveries=deliveries, body=body, created_at=created_at,
    )
    log.log(_LOG_LEVELS.get(level, logging.WARNING), "alert %d (%s %s): %s; %s%s", alert_id, kind, name, message,
            reason, f"; to {', '.join(notify)}" if notify else "")
    if deliveries:
        OUTBOX_CHANGED.set()
    return alert_id


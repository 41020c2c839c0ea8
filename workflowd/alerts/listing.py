"""Alerts as ``workflowd alerts --json`` shows them (the field names are a stable contract), and
re-arming an alert's deliveries."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from ..errors import WorkflowdError
from ..store import Store

ALERT_FIELDS = ("id", "created_at", "kind", "name", "level", "message", "reason", "scope", "documents")
DELIVERY_FIELDS = (
    "notifier",
    "status",
    "attempts",
    "next_attempt_at",
    "last_status",
    "last_error",
    "delivered_at",
    "message_id",
)


def list_alerts(store: Store, *, since: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Alerts, newest first, each with its deliveries; ``since`` an ISO UTC time (``...Z``)."""
    alerts = store.alerts.list(since=since, limit=limit)
    deliveries = store.outbox.for_alerts(a["id"] for a in alerts)
    return [_item(alert, deliveries[alert["id"]]) for alert in alerts]


def get_alert(store: Store, alert_id: int) -> dict[str, Any] | None:
    """One alert as ``list_alerts`` shows it, or None."""
    alert = store.alerts.get(alert_id)
    if alert is None:
        return None
    return _item(alert, store.outbox.for_alerts([alert_id])[alert_id])


def _item(alert: dict[str, Any], deliveries: list[dict[str, Any]]) -> dict[str, Any]:
    item = {k: alert.get(k) for k in ALERT_FIELDS}
    item["deliveries"] = [_delivery(row) for row in deliveries]
    return item


def _delivery(row: dict[str, Any]) -> dict[str, Any]:
    item = {k: row.get(k) for k in DELIVERY_FIELDS}
    # The outbox keeps unix times; shown in ISO like every other time. Only a pending delivery has a
    # next try, and one due from the start (0) is due since it was made.
    if row["status"] != "pending":
        item["next_attempt_at"] = None
    elif not row["next_attempt_at"]:
        item["next_attempt_at"] = row["created_at"]
    else:
        item["next_attempt_at"] = _iso(row["next_attempt_at"])
    return item


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rearm(store: Store, alert_id: int, *, now: float | None = None) -> list[str]:
    """Make the alert's dead and pending deliveries due now, with a fresh retry schedule, and enable
    again the endpoints their notifiers had disabled; returns those notifiers (none: nothing to do)."""
    if store.alerts.get(alert_id) is None:
        raise WorkflowdError(f"no alert with id {alert_id} (`workflowd alerts` lists them)")
    return store.outbox.rearm(alert_id, now=time.time() if now is None else now)

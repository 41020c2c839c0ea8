"""Alerts and the outbox their deliveries wait in: an alert and its deliveries are written together."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from .db import StoreDB, dumps, now_iso


def _alert(row: dict[str, Any]) -> dict[str, Any]:
    row["documents"] = json.loads(row["documents"]) if row.get("documents") else []
    row["payload"] = json.loads(row["payload"]) if row.get("payload") else None
    return row


class Alerts:
    def __init__(self, db: StoreDB):
        self.db = db

    def add(
        self,
        *,
        kind: str,
        name: str,
        level: str,
        message: str,
        reason: str,
        documents: list[int],
        scope: str | None = None,
        document_id: int | None = None,
        payload: dict[str, Any] | None = None,
        deliveries: Sequence[tuple[str, str]] = (),
        body: Callable[[int], str] | None = None,
        created_at: str | None = None,
        due: float = 0.0,
    ) -> int:
        """One alert and its deliveries ``(notifier, message_id)``, in one transaction; ``body``
        makes each delivery's body from the new alert's id."""
        created_at = created_at or now_iso()
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO alerts (document_id, step, level, message, payload, created_at, kind, name, reason,"
                " scope, documents) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (document_id, kind, level, message, dumps(payload) if payload is not None else None, created_at,
                 kind, name, reason, scope, dumps(documents)),
            )
            alert_id = int(cur.lastrowid)
            text = body(alert_id) if body is not None and deliveries else "{}"
            for notifier, message_id in deliveries:
                conn.execute(
                    "INSERT INTO outbox (alert_id, notifier, message_id, body, status, attempts, next_attempt_at,"
                    " created_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
                    (alert_id, notifier, message_id, text, due, created_at),
                )
        return alert_id

    def get(self, alert_id: int) -> dict[str, Any] | None:
        row = self.db.query_one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return _alert(row) if row else None

    def list(self, *, since: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Alerts, newest first; ``since`` an ISO time (the store's times are UTC, ``...Z``)."""
        sql, params = "SELECT * FROM alerts", []
        if since:
            sql += " WHERE created_at >= ?"
            params.append(since)
        sql += " ORDER BY id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_alert(r) for r in self.db.query(sql, params)]

    def for_document(self, doc_id: int) -> list[dict[str, Any]]:
        """The alerts that list the document, oldest first."""
        rows = self.db.query(
            "SELECT * FROM alerts WHERE document_id = ? OR EXISTS (SELECT 1 FROM json_each(alerts.documents) j"
            " WHERE j.value = ?) ORDER BY id",
            (doc_id, doc_id),
        )
        return [_alert(r) for r in rows]

    def last_time(self, kind: str, name: str, scope: str | None) -> str | None:
        """When the newest alert of this kind, name and scope was made (surges' cooldown)."""
        return self.db.scalar(
            "SELECT created_at FROM alerts WHERE kind = ? AND name = ? AND scope IS ? ORDER BY id DESC LIMIT 1",
            (kind, name, scope),
        )

"""The outbox: deliveries waiting to be sent, claimed with a lease so that two processes (the
daemon and ``workflowd ingest``) never send the same one at once, and endpoints a 410 disabled.

A sender records what became of a delivery only while it still holds the lease it claimed
(``lease_until`` equals its claim): a sender whose lease ran out and was taken over changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .db import StoreDB, now_iso

STATUSES = ("pending", "delivered", "dead")


class Outbox:
    def __init__(self, db: StoreDB):
        self.db = db

    def claim(self, *, now: float, lease_s: float, alert_id: int | None = None) -> dict[str, Any] | None:
        """The delivery due first (of one alert, if given) whose lease is free, leased until
        ``now + lease_s`` and counted as a try; None when nothing is due."""
        with self.db.transaction() as conn:
            row = self.db.query_one(
                "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ?"
                " AND (lease_until IS NULL OR lease_until <= ?) AND (? IS NULL OR alert_id = ?)"
                " ORDER BY next_attempt_at, id LIMIT 1",
                (now, now, alert_id, alert_id),
            )
            if row is None:
                return None
            lease = now + lease_s
            taken = conn.execute(
                "UPDATE outbox SET lease_until = ?, attempts = attempts + 1 WHERE id = ? AND status = 'pending'"
                " AND (lease_until IS NULL OR lease_until <= ?)",
                (lease, row["id"], now),
            ).rowcount
        if not taken:
            return None
        row.update(lease_until=lease, attempts=row["attempts"] + 1)
        return row

    def delivered(self, row_id: int, lease: float, *, status: int | None) -> bool:
        return self._record(
            "status = 'delivered', last_status = ?, last_error = NULL, delivered_at = ?",
            (status, now_iso()),
            row_id,
            lease,
        )

    def retry_at(
        self, row_id: int, lease: float, *, at: float, status: int | None, error: str | None
    ) -> bool:
        """Try again at unix time ``at``."""
        return self._record(
            "next_attempt_at = ?, last_status = ?, last_error = ?", (at, status, error), row_id, lease
        )

    def dead(self, row_id: int, lease: float, *, status: int | None, error: str | None) -> bool:
        return self._record(
            "status = 'dead', last_status = ?, last_error = ?", (status, error), row_id, lease
        )

    def _record(self, changes: str, params: tuple[Any, ...], row_id: int, lease: float) -> bool:
        with self.db.transaction() as conn:
            cur = conn.execute(
                f"UPDATE outbox SET {changes}, lease_until = NULL WHERE id = ? AND lease_until = ? AND status = 'pending'",
                (*params, row_id, lease),
            )
        return cur.rowcount == 1

    def next_due(self) -> float | None:
        """When the next pending delivery may be tried (unix time), counting leases held by others."""
        value = self.db.scalar(
            "SELECT MIN(MAX(next_attempt_at, IFNULL(lease_until, 0))) FROM outbox WHERE status = 'pending'"
        )
        return None if value is None else float(value)

    def for_alerts(self, alert_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
        """Each alert's deliveries, in the order they were made."""
        ids = list(alert_ids)
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(f"SELECT * FROM outbox WHERE alert_id IN ({marks}) ORDER BY id", chunk):
                out[row["alert_id"]].append(row)
        return out

    def rearm(self, alert_id: int, *, now: float) -> list[str]:
        """Make the alert's dead and pending deliveries due at ``now`` with a fresh retry schedule, and
        enable again the endpoints their notifiers had disabled; returns those notifiers."""
        with self.db.transaction() as conn:
            notifiers = [
                r["notifier"]
                for r in self.db.query(
                    "SELECT DISTINCT notifier FROM outbox WHERE alert_id = ? AND status IN ('pending', 'dead')",
                    (alert_id,),
                )
            ]
            conn.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ? WHERE alert_id = ?"
                " AND status IN ('pending', 'dead')",
                (now, alert_id),
            )
            for notifier in notifiers:
                conn.execute("DELETE FROM disabled_endpoints WHERE notifier = ?", (notifier,))
        return notifiers

    def disable(self, notifier: str, url: str, reason: str) -> None:
        """No more deliveries to this notifier while it has this URL (the receiver answered 410 Gone)."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO disabled_endpoints (notifier, url, reason, created_at) VALUES (?, ?, ?, ?)",
                (notifier, url, reason, now_iso()),
            )

    def disabled(self, notifier: str, url: str) -> dict[str, Any] | None:
        return self.db.query_one(
            "SELECT reason, created_at FROM disabled_endpoints WHERE notifier = ? AND url = ?",
            (notifier, url),
        )

    def counts(self) -> dict[str, int]:
        rows = self.db.query("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        return {s: 0 for s in STATUSES} | {r["status"]: r["n"] for r in rows}

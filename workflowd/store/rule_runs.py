"""Which rules each document went through, and how: a rule runs once per document."""

from __future__ import annotations

import json
from typing import Any

from .db import StoreDB, dumps, now_iso

RUN_STATUSES = ("applied", "failed", "skipped")


class RuleRuns:
    def __init__(self, db: StoreDB):
        self.db = db

    def record(self, doc_id: int, rule: str, status: str, detail: dict[str, Any]) -> bool:
        """Record a rule's outcome for a document; False when one was recorded already."""
        if status not in RUN_STATUSES:
            raise ValueError(f"rule run status {status!r} is not one of {', '.join(RUN_STATUSES)}")
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO rule_runs (document_id, rule, status, detail, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (document_id, rule) DO NOTHING",
                (doc_id, rule, status, dumps(detail), now_iso()),
            )
        return bool(cur.rowcount)

    def for_document(self, doc_id: int) -> dict[str, dict[str, Any]]:
        """The document's rule runs by rule name: status, detail and when."""
        rows = self.db.query(
            "SELECT rule, status, detail, created_at FROM rule_runs WHERE document_id = ? ORDER BY id", (doc_id,)
        )
        return {r.pop("rule"): {**r, "detail": json.loads(r["detail"] or "{}")} for r in rows}

    def counts(self) -> dict[str, dict[str, int]]:
        """Per rule, how many documents it was applied to, failed on and skipped."""
        out: dict[str, dict[str, int]] = {}
        for rule, status, n in self.db.conn.execute(
            "SELECT rule, status, count(*) FROM rule_runs GROUP BY rule, status"
        ).fetchall():
            out.setdefault(rule, dict.fromkeys(RUN_STATUSES, 0))[status] = int(n)
        return out

"""Per-step results of each document."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .db import StoreDB, dumps, now_iso


class StepResults:
    def __init__(self, db: StoreDB):
        self.db = db

    def save(
        self,
        doc_id: int,
        step: str,
        *,
        data: dict[str, Any] | None = None,
        confidence: float | None = None,
        model_version: str | None = None,
        needs_review: bool = False,
        error: str | None = None,
    ) -> None:
        """Store (or replace) one step's result; a result with ``error`` is a failed step."""
        self.db.conn.execute(
            "INSERT INTO step_results (document_id, step, status, data, confidence, model_version,"
            " needs_review, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (document_id, step) DO UPDATE SET status = excluded.status, data = excluded.data,"
            " confidence = excluded.confidence, model_version = excluded.model_version,"
            " needs_review = excluded.needs_review, error = excluded.error, created_at = excluded.created_at",
            (
                doc_id,
                step,
                "failed" if error else "ok",
                dumps(data) if data is not None else None,
                confidence,
                model_version,
                int(needs_review),
                error,
                now_iso(),
            ),
        )

    def for_document(self, doc_id: int) -> dict[str, dict[str, Any]]:
        rows = self.db.query(
            "SELECT step, status, data, confidence, model_version, needs_review, error, created_at"
            " FROM step_results WHERE document_id = ? ORDER BY id",
            (doc_id,),
        )
        out = {}
        for row in rows:
            step = row.pop("step")
            row["data"] = json.loads(row["data"]) if row["data"] else None
            row["needs_review"] = bool(row["needs_review"])
            out[step] = row
        return out

    def unanswered(
        self,
        steps: Sequence[str],
        *,
        source: str | None = None,
        since: str | None = None,
    ) -> list[dict[str, Any]]:
        """The results of ``steps`` that no correction in force answers, least confident first
        (without a confidence: last), with their document's name, title, source and date."""
        where = ["r.status = 'ok'", "d.status = 'done'", f"r.step IN ({','.join('?' * len(steps))})"]
        params: list[Any] = list(steps)
        if source:
            where.append("d.source = ?")
            params.append(source)
        if since:
            where.append("d.created_at >= ?")
            params.append(since)
        rows = self.db.query(
            "SELECT r.document_id, r.step, r.confidence, r.data, r.model_version, d.name, d.title, d.source,"
            " d.created_at FROM step_results r JOIN documents d ON d.id = r.document_id"
            f" WHERE {' AND '.join(where)} AND NOT EXISTS (SELECT 1 FROM corrections c WHERE"
            " c.document_id = r.document_id AND c.task = r.step AND c.undone_at IS NULL)"
            " ORDER BY r.confidence IS NULL, r.confidence, r.document_id",
            params,
        )
        for r in rows:
            r["data"] = json.loads(r["data"] or "{}")
        return rows

"""Figures for the dashboard: documents per day and per label, the sentiment trend, alerts, errors."""

from __future__ import annotations

from typing import Any

from .db import StoreDB


class Stats:
    def __init__(self, db: StoreDB):
        self.db = db

    def documents_per_day(self, since: str) -> list[tuple[str, int]]:
        """(YYYY-MM-DD, documents recorded that day), attachments not counted, since ``since``."""
        rows = self.db.conn.execute(
            "SELECT substr(created_at, 1, 10) AS day, count(*) FROM documents"
            " WHERE parent_id IS NULL AND created_at >= ? GROUP BY day ORDER BY day",
            (since,),
        ).fetchall()
        return [(r[0], int(r[1])) for r in rows]

    def per_label(self) -> list[tuple[str, int]]:
        """(label, documents): a classify correction in force wins over the model's answer."""
        rows = self.db.conn.execute(
            "SELECT COALESCE((SELECT json_extract(c.value, '$.label') FROM corrections c"
            " WHERE c.task = 'classify' AND c.undone_at IS NULL AND c.document_id = r.document_id"
            " ORDER BY c.id DESC LIMIT 1), json_extract(r.data, '$.label')) AS label, count(*)"
            " FROM step_results r WHERE r.step = 'classify' AND r.status = 'ok' GROUP BY label ORDER BY 2 DESC"
        ).fetchall()
        return [(r[0] if r[0] is not None else "(none)", int(r[1])) for r in rows]

    def sentiment_per_day(self, since: str) -> list[tuple[str, float, int]]:
        """(day, mean sentiment score, documents scored that day)."""
        rows = self.db.conn.execute(
            "SELECT substr(d.created_at, 1, 10) AS day, avg(json_extract(r.data, '$.score')), count(*)"
            " FROM step_results r JOIN documents d ON d.id = r.document_id"
            " WHERE r.step = 'sentiment' AND r.status = 'ok' AND d.created_at >= ? GROUP BY day ORDER BY day",
            (since,),
        ).fetchall()
        return [(r[0], float(r[1] or 0.0), int(r[2])) for r in rows]

    def alerts_per_day(self, since: str) -> list[tuple[str, int]]:
        rows = self.db.conn.execute(
            "SELECT substr(created_at, 1, 10) AS day, count(*) FROM alerts WHERE created_at >= ?"
            " GROUP BY day ORDER BY day",
            (since,),
        ).fetchall()
        return [(r[0], int(r[1])) for r in rows]

    def last_errors(self, limit: int = 10) -> list[dict[str, Any]]:
        return self.db.query(
            "SELECT id, name, error, updated_at FROM documents WHERE status = 'failed'"
            " ORDER BY updated_at DESC, id DESC LIMIT ?",
            (int(limit),),
        )

"""Corrections: what the owner says a step should have answered, with who, when and what the
model said. The newest correction of a document and task that is not undone is the one in
force; the older ones stay as history."""

from __future__ import annotations

import json
from typing import Any

from .db import StoreDB, dumps, now_iso


def _row(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("value", "previous"):
        row[key] = json.loads(row[key]) if row[key] else None
    return row


class Corrections:
    def __init__(self, db: StoreDB):
        self.db = db

    def add(
        self,
        task: str,
        value: dict[str, Any],
        *,
        document_id: int | None = None,
        sha256: str | None = None,
        text: str | None = None,
        previous: dict[str, Any] | None = None,
        model_version: str | None = None,
        confidence: float | None = None,
        author: str | None = None,
        origin: str = "cli",
        created_at: str | None = None,
    ) -> int:
        cur = self.db.conn.execute(
            "INSERT INTO corrections (document_id, sha256, text, task, value, previous, model_version, confidence,"
            " author, origin, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                document_id,
                sha256,
                text,
                task,
                dumps(value),
                dumps(previous) if previous is not None else None,
                model_version,
                confidence,
                author,
                origin,
                created_at or now_iso(),
            ),
        )
        return int(cur.lastrowid)

    def get(self, correction_id: int) -> dict[str, Any] | None:
        row = self.db.query_one("SELECT * FROM corrections WHERE id = ?", (correction_id,))
        return _row(row) if row else None

    def undo(self, correction_id: int) -> bool:
        cur = self.db.conn.execute(
            "UPDATE corrections SET undone_at = ? WHERE id = ? AND undone_at IS NULL",
            (now_iso(), correction_id),
        )
        return cur.rowcount == 1

    def list(
        self, *, task: str | None = None, include_undone: bool = False, since: str | None = None
    ) -> list[dict[str, Any]]:
        where, params = [], []
        if task:
            where.append("task = ?")
            params.append(task)
        if not include_undone:
            where.append("undone_at IS NULL")
        if since:
            where.append("created_at >= ?")
            params.append(since)
        sql = (
            "SELECT * FROM corrections" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id"
        )
        return [_row(r) for r in self.db.query(sql, params)]

    def in_force(self, task: str) -> list[dict[str, Any]]:
        """The newest correction per document (or per sha256, for imported ones) of ``task``."""
        latest: dict[Any, dict[str, Any]] = {}
        for row in self.list(task=task):
            key = row["sha256"] or ("doc", row["document_id"])
            latest[key] = row
        return sorted(latest.values(), key=lambda r: r["id"])

    def for_document(self, document_id: int) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for row in self.db.query(
            "SELECT * FROM corrections WHERE document_id = ? AND undone_at IS NULL ORDER BY id",
            (document_id,),
        ):
            out[row["task"]] = _row(row)
        return out

    def exists(self, sha256: str | None, task: str, value: dict[str, Any], created_at: str) -> bool:
        return bool(
            self.db.scalar(
                "SELECT 1 FROM corrections WHERE sha256 IS ? AND task = ? AND value = ? AND created_at = ?",
                (sha256, task, dumps(value), created_at),
            )
        )

    def count_in_force(self, task: str) -> int:
        """Corrections of ``task`` not undone (older ones of the same document included)."""
        return int(
            self.db.scalar("SELECT count(*) FROM corrections WHERE task = ? AND undone_at IS NULL", (task,))
        )

    def latest(self, task: str) -> str | None:
        """When the newest correction of ``task`` (undone or not) was made."""
        return self.db.scalar("SELECT max(created_at) FROM corrections WHERE task = ?", (task,))

    def labels(self, task: str) -> list[str]:
        """The distinct labels of the corrections of ``task`` in force, oldest first."""
        rows = self.db.query(
            "SELECT json_extract(value, '$.label') AS label FROM corrections WHERE task = ? AND undone_at IS NULL"
            " AND json_extract(value, '$.label') IS NOT NULL GROUP BY label ORDER BY min(id)",
            (task,),
        )
        return [r["label"] for r in rows]

    def count_since(self, task: str, since: str | None) -> int:
        return int(
            self.db.scalar(
                "SELECT count(*) FROM corrections WHERE task = ? AND undone_at IS NULL AND created_at > ?",
                (task, since or ""),
            )
        )

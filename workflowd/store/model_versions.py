"""The record of each trained model version and of which one a task uses (``promoted``).

The artifacts themselves live on disk (workflowd.models.registry); here are their rows.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .db import StoreDB, dumps, now_iso


def _row(row: dict[str, Any]) -> dict[str, Any]:
    row["metrics"] = json.loads(row["metrics"] or "{}")
    row["meta"] = json.loads(row["meta"] or "{}")
    return row


class ModelVersions:
    def __init__(self, db: StoreDB):
        self.db = db

    def add(
        self, task: str, version: str, path: str, *, base_model: str | None, metrics: dict, meta: dict
    ) -> None:
        self.db.conn.execute(
            "INSERT INTO model_versions (task, version, path, status, base_model, metrics, meta, created_at)"
            " VALUES (?, ?, ?, 'candidate', ?, ?, ?, ?)",
            (task, version, path, base_model, dumps(metrics), dumps(meta), now_iso()),
        )

    def next_version(self, task: str) -> str:
        """``v<N+1>`` where vN is the highest numbered version of the task."""
        numbers = [
            int(m.group(1))
            for r in self.db.query("SELECT version FROM model_versions WHERE task = ?", (task,))
            if (m := re.fullmatch(r"v(\d+)", r["version"]))
        ]
        return f"v{max(numbers, default=0) + 1}"

    def get(self, task: str, version: str) -> dict[str, Any] | None:
        row = self.db.query_one("SELECT * FROM model_versions WHERE task = ? AND version = ?", (task, version))
        return _row(row) if row else None

    def promoted(self, task: str) -> dict[str, Any] | None:
        row = self.db.query_one("SELECT * FROM model_versions WHERE task = ? AND status = 'promoted'", (task,))
        return _row(row) if row else None

    def list(self, task: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM model_versions", ()
        if task:
            sql, params = sql + " WHERE task = ?", (task,)
        return [_row(r) for r in self.db.query(sql + " ORDER BY task, id", params)]

    def newest_created(self, task: str) -> str | None:
        """When the task's newest version (of any status) was made."""
        return self.db.scalar("SELECT max(created_at) FROM model_versions WHERE task = ?", (task,))

    def promote(self, task: str, version: str, *, leaving: str) -> None:
        """``version`` becomes the one in use; the one in use before gets status ``leaving``."""
        self.db.conn.execute(
            "UPDATE model_versions SET status = ? WHERE task = ? AND status = 'promoted' AND version != ?",
            (leaving, task, version),
        )
        self.db.conn.execute(
            "UPDATE model_versions SET status = 'promoted', promoted_at = ? WHERE task = ? AND version = ?",
            (now_iso(), task, version),
        )

    def reject(self, task: str, version: str, meta: dict[str, Any]) -> None:
        self.db.conn.execute(
            "UPDATE model_versions SET status = 'rejected', meta = ? WHERE task = ? AND version = ?",
            (dumps(meta), task, version),
        )

    def unpromote(self, task: str) -> None:
        self.db.conn.execute(
            "UPDATE model_versions SET status = 'rolled-back' WHERE task = ? AND status = 'promoted'", (task,)
        )

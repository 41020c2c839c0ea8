"""What surges read: a scope's newest sentiment results, in processing order, with each document's
embedding (or, without one, its text)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .db import StoreDB

# A scope's condition on the sentiment result ``r`` and its document ``d``; ``?`` is the scope's value.
_SCOPES = {
    "all": "",
    "source": " AND d.source = ?",
    "label": " AND EXISTS (SELECT 1 FROM step_results c WHERE c.document_id = r.document_id"
             " AND c.step = 'classify' AND c.status = 'ok' AND json_extract(c.data, '$.label') = ?)",
    "tag": " AND EXISTS (SELECT 1 FROM document_tags t WHERE t.document_id = r.document_id AND t.tag = ?)",
}


@dataclass(frozen=True)
class Scored:
    """One document of a stream: its sentiment label, and its embedding or (without one) its text."""

    document_id: int
    label: str | None
    encoder: str | None
    vector: np.ndarray | None
    text: str | None


class SurgeStreams:
    def __init__(self, db: StoreDB):
        self.db = db

    def stream(
        self,
        scope: str,
        value: str | None,
        *,
        model_version: str | None,
        limit: int,
        attachments: bool = False,
    ) -> list[Scored]:
        """The newest ``limit`` documents of a scope (``all``, ``source``, ``label``, ``tag``) whose
        sentiment came from ``model_version``, newest first.

        Processing order is the order of the sentiment results' rows: they are first written in the
        transaction that stores the document, and re-running the step updates them in place. The
        CROSS JOIN keeps SQLite walking those rows newest first and stopping at ``limit``, instead of
        sorting every document of the store on each call."""
        if scope not in _SCOPES:
            raise ValueError(f"unknown scope {scope!r}; known scopes: {', '.join(_SCOPES)}")
        sql = (
            "SELECT r.document_id, json_extract(r.data, '$.label') AS label, e.encoder, e.vector,"
            " CASE WHEN e.vector IS NULL THEN d.text END AS text"
            " FROM step_results r CROSS JOIN documents d ON d.id = r.document_id"
            " LEFT JOIN embeddings e ON e.document_id = r.document_id"
            " WHERE r.step = 'sentiment' AND r.status = 'ok' AND r.model_version IS ?"
        )
        params: list[object] = [model_version]
        if not attachments:
            sql += " AND +d.parent_id IS NULL"
        if scope != "all":
            sql += _SCOPES[scope]
            params.append(value)
        sql += " ORDER BY r.id DESC LIMIT ?"
        params.append(int(limit))
        return [
            Scored(
                document_id=row[0],
                label=row[1],
                encoder=row[2],
                vector=np.frombuffer(row[3], dtype=np.float32) if row[3] is not None else None,
                text=row[4],
            )
            for row in self.db.conn.execute(sql, params).fetchall()
        ]


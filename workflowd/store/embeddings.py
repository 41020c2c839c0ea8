"""Document embeddings, stored as float32 bytes beside the documents."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .db import StoreDB, now_iso


class Embeddings:
    def __init__(self, db: StoreDB):
        self.db = db

    def save(self, doc_id: int, encoder: str, vector: np.ndarray) -> None:
        v = np.asarray(vector, dtype=np.float32)
        self.db.conn.execute(
            "INSERT INTO embeddings (document_id, encoder, dim, vector, created_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (document_id) DO UPDATE SET encoder = excluded.encoder, dim = excluded.dim,"
            " vector = excluded.vector, created_at = excluded.created_at",
            (doc_id, encoder, int(v.shape[0]), v.tobytes(), now_iso()),
        )

    def matrix(self, encoder: str, *, limit: int | None = None, ids: Sequence[int] | None = None
               ) -> tuple[list[int], np.ndarray]:
        """(document ids, embeddings) made by ``encoder``, newest first."""
        sql = "SELECT document_id, dim, vector FROM embeddings WHERE encoder = ?"
        params: list[object] = [encoder]
        if ids is not None:
            sql += f" AND document_id IN ({', '.join('?' * len(ids))})"
            params += list(ids)
        sql += " ORDER BY document_id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        rows = self.db.conn.execute(sql, params).fetchall()
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        return [r[0] for r in rows], np.stack([np.frombuffer(r[2], dtype=np.float32) for r in rows])

    def uncorrected(self, task: str, encoder: str, *, limit: int) -> tuple[list[int], np.ndarray]:
        """(document ids, embeddings) of the newest documents with no correction of ``task`` in
        force: where a retrained model is checked to keep the answers of the model in use."""
        rows = self.db.conn.execute(
            "SELECT e.document_id, e.vector FROM embeddings e JOIN documents d ON d.id = e.document_id"
            " WHERE e.encoder = ? AND d.status = 'done' AND NOT EXISTS (SELECT 1 FROM corrections c"
            " WHERE c.task = ? AND c.undone_at IS NULL AND (c.document_id = d.id OR c.sha256 = d.sha256))"
            " ORDER BY e.document_id DESC LIMIT ?",
            (encoder, task, int(limit)),
        ).fetchall()
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        return [r[0] for r in rows], np.stack([np.frombuffer(r[1], dtype=np.float32) for r in rows])

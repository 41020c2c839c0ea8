"""A document's tags, each with where it came from (``rule:NAME``, ``cli``...)."""

from __future__ import annotations

from .db import StoreDB, now_iso


class Tags:
    def __init__(self, db: StoreDB):
        self.db = db

    def add(self, doc_id: int, tags: list[str], origin: str) -> list[str]:
        """Add tags the document does not have yet; returns those added."""
        added = []
        now = now_iso()
        with self.db.transaction() as conn:
            for tag in dict.fromkeys(tags):
                cur = conn.execute(
                    "INSERT INTO document_tags (document_id, tag, origin, created_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (document_id, tag) DO NOTHING",
                    (doc_id, tag, origin, now),
                )
                if cur.rowcount:
                    added.append(tag)
        return added

    def for_document(self, doc_id: int) -> list[str]:
        rows = self.db.query(
            "SELECT tag FROM document_tags WHERE document_id = ? ORDER BY created_at, tag", (doc_id,)
        )
        return [r["tag"] for r in rows]

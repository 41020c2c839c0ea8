"""Where each mail source stands: per folder the UIDVALIDITY and last UID taken, per message
its key, Message-ID and document, and whether the after-processing action is still due."""

from __future__ import annotations

from typing import Any

from .db import StoreDB, now_iso


class Mail:
    def __init__(self, db: StoreDB):
        self.db = db

    def folder_state(self, source: str, folder: str) -> tuple[int, int] | None:
        """``(uidvalidity, last_uid)`` of an IMAP folder, or None before its first sync."""
        row = self.db.query_one(
            "SELECT uidvalidity, last_uid FROM mail_folders WHERE source = ? AND folder = ?", (source, folder)
        )
        return (row["uidvalidity"], row["last_uid"]) if row else None

    def set_folder_state(self, source: str, folder: str, uidvalidity: int, last_uid: int) -> None:
        self.db.conn.execute(
            "INSERT INTO mail_folders (source, folder, uidvalidity, last_uid, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (source, folder) DO UPDATE SET uidvalidity = excluded.uidvalidity,"
            " last_uid = excluded.last_uid, updated_at = excluded.updated_at",
            (source, folder, uidvalidity, last_uid, now_iso()),
        )

    def known(self, source: str, folder: str, key: str) -> bool:
        return bool(
            self.db.scalar(
                "SELECT 1 FROM mail_messages WHERE source = ? AND folder = ? AND key = ?",
                (source, folder, key),
            )
        )

    def documents_by_message_id(self, source: str, message_ids: list[str]) -> dict[str, int | None]:
        """The document of each of these Message-IDs that this source took already (any folder)."""
        found: dict[str, int | None] = {}
        for i in range(0, len(message_ids), 500):
            chunk = message_ids[i : i + 500]
            rows = self.db.query(
                f"SELECT message_id, MIN(document_id) AS document_id FROM mail_messages WHERE source = ?"
                f" AND message_id IN ({', '.join('?' * len(chunk))}) GROUP BY message_id",
                [source, *chunk],
            )
            found.update((r["message_id"], r["document_id"]) for r in rows)
        return found

    def record(
        self,
        source: str,
        folder: str,
        key: str,
        *,
        message_id: str | None,
        document_id: int | None,
        action_pending: bool = False,
        error: str | None = None,
    ) -> None:
        """Remember a message as taken (a second record of the same key is ignored)."""
        self.db.conn.execute(
            "INSERT INTO mail_messages (source, folder, key, message_id, document_id, action_pending, error,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, folder, key) DO NOTHING",
            (source, folder, key, message_id, document_id, int(action_pending), error, now_iso()),
        )

    def due_actions(self, source: str) -> list[dict[str, Any]]:
        """Messages whose action is due: their document (and its attachments) are processed."""
        return self.db.query(
            "SELECT m.id, m.folder, m.key FROM mail_messages m LEFT JOIN documents d ON d.id = m.document_id"
            " WHERE m.source = ? AND m.action_pending = 1"
            " AND (d.id IS NULL OR d.status IN ('done', 'failed'))"
            " AND NOT EXISTS (SELECT 1 FROM documents c WHERE c.parent_id = d.id"
            "                 AND c.status IN ('queued', 'processing'))"
            " ORDER BY m.id",
            (source,),
        )

    def waiting_actions(self, source: str) -> int:
        return int(
            self.db.scalar(
                "SELECT COUNT(*) FROM mail_messages WHERE source = ? AND action_pending = 1", (source,)
            )
        )

    def actions_done(self, ids: list[int]) -> None:
        with self.db.transaction() as conn:
            conn.executemany("UPDATE mail_messages SET action_pending = 0 WHERE id = ?", [(i,) for i in ids])

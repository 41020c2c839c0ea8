"""Documents and the places their content was found."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..filenames import clean_text, display, fs_path, raw
from .db import StoreDB, dumps, now_iso

# The columns of a document in `list --json` (DESIGN.md), in this order.
PUBLIC_COLUMNS = (
    "id",
    "parent_id",
    "sha256",
    "source",
    "path",
    "name",
    "media_type",
    "size",
    "title",
    "status",
    "error",
    "created_at",
    "updated_at",
    "processed_at",
)

STATUSES = ("queued", "processing", "done", "failed")


@dataclass(frozen=True)
class FoundFile:
    """A file a source found, already hashed. ``path`` and ``name`` are display text
    (workflowd/filenames.py); ``path_raw`` the path's exact bytes where they differ."""

    source: str
    path: str
    name: str
    sha256: str
    size: int
    mtime_ns: int | None = None
    media_type: str | None = None  # as sniffed from the first bytes; extraction may refine it
    path_raw: bytes | None = None


class Documents:
    def __init__(self, db: StoreDB):
        self.db = db

    def add(
        self,
        found: FoundFile,
        *,
        pipeline: str,
        max_attempts: int,
        parent_id: int | None = None,
        error: str | None = None,
    ) -> tuple[int, bool]:
        """Record a found file and queue it for processing, in one transaction.

        Content seen before (same sha256) is not queued again: the file is recorded as
        another location of the existing document. A file that cannot be processed at all
        (``error``, e.g. too large) is recorded as failed, with no job.
        Returns ``(document id, created)``.
        """
        now = now_iso()
        error = clean_text(error) if error else error
        with self.db.transaction() as conn:
            doc_id = self.db.scalar("SELECT id FROM documents WHERE sha256 = ?", (found.sha256,))
            created = doc_id is None
            if created:
                cur = conn.execute(
                    "INSERT INTO documents (parent_id, sha256, source, path, name, media_type, size, status,"
                    " error, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        parent_id,
                        found.sha256,
                        found.source,
                        found.path,
                        found.name,
                        found.media_type,
                        found.size,
                        "failed" if error else "queued",
                        error,
                        now,
                        now,
                    ),
                )
                doc_id = cur.lastrowid
                if error:
                    conn.execute("UPDATE documents SET processed_at = ? WHERE id = ?", (now, doc_id))
                else:
                    conn.execute(
                        "INSERT INTO jobs (document_id, kind, pipeline, status, attempts, max_attempts,"
                        " run_after, created_at) VALUES (?, 'process', ?, 'pending', 0, ?, 0, ?)",
                        (doc_id, pipeline, max_attempts, now),
                    )
            conn.execute(
                "INSERT INTO locations (document_id, source, path, path_raw, size, mtime_ns, first_seen,"
                " last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (document_id, source, path, ifnull(path_raw, x'')) DO UPDATE SET"
                " size = excluded.size, mtime_ns = excluded.mtime_ns, last_seen = excluded.last_seen",
                (doc_id, found.source, found.path, found.path_raw, found.size, found.mtime_ns, now, now),
            )
        return int(doc_id), created

    def is_known_file(self, path: str | os.PathLike[str], size: int, mtime_ns: int) -> bool:
        """Whether this exact file (path as the file system has it, size and mtime) was already taken."""
        return bool(
            self.db.scalar(
                "SELECT 1 FROM locations WHERE path = ? AND path_raw IS ? AND size = ? AND mtime_ns = ? LIMIT 1",
                (display(path), raw(path), size, mtime_ns),
            )
        )

    def file_paths(self, doc_id: int) -> list[Path]:
        """Every place the document's content was found, as the file system knows them, the
        document's own first."""
        rows = self.db.conn.execute(
            "SELECT path, path_raw FROM locations WHERE document_id = ? ORDER BY id", (doc_id,)
        ).fetchall()
        return [fs_path(path, path_raw) for path, path_raw in rows]

    def add_location(self, doc_id: int, source: str, path: Path, size: int, mtime_ns: int) -> None:
        """Record another place where the document's content now is (a rule's copy)."""
        now = now_iso()
        self.db.conn.execute(
            "INSERT INTO locations (document_id, source, path, path_raw, size, mtime_ns, first_seen, last_seen)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (document_id, source, path, ifnull(path_raw, x''))"
            " DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, last_seen = excluded.last_seen",
            (doc_id, source, display(path), raw(path), size, mtime_ns, now, now),
        )

    def move_location(
        self, old: Path, new: Path, size: int, mtime_ns: int, *, doc_id: int | None = None, source: str | None = None
    ) -> int:
        """The file at ``old`` is now at ``new``: its location rows (of ``doc_id``, else of any
        document) follow it, and so does a document's own path and name. With ``doc_id`` and
        no row at ``old``, a row at ``new`` is added under ``source``. Returns the rows moved."""
        now = now_iso()
        old_path, old_raw, new_path, new_raw = display(old), raw(old), display(new), raw(new)
        with self.db.transaction() as conn:
            where, params = "path = ? AND path_raw IS ?", [old_path, old_raw]
            if doc_id is not None:
                where += " AND document_id = ?"
                params.append(doc_id)
            rows = self.db.query(f"SELECT id, document_id, source FROM locations WHERE {where}", params)
            for row in rows:
                # the watcher may have recorded the new place already: keep that row, drop this one
                taken = self.db.scalar(
                    "SELECT id FROM locations WHERE document_id = ? AND source = ? AND path = ? AND path_raw IS ?",
                    (row["document_id"], row["source"], new_path, new_raw),
                )
                if taken is not None:
                    conn.execute("DELETE FROM locations WHERE id = ?", (row["id"],))
                    conn.execute("UPDATE locations SET size = ?, mtime_ns = ?, last_seen = ? WHERE id = ?",
                                 (size, mtime_ns, now, taken))
                else:
                    conn.execute(
                        "UPDATE locations SET path = ?, path_raw = ?, size = ?, mtime_ns = ?, last_seen = ?"
                        " WHERE id = ?",
                        (new_path, new_raw, size, mtime_ns, now, row["id"]),
                    )
            if not rows and doc_id is not None:
                self.add_location(doc_id, source or "rules", new, size, mtime_ns)
            owners = {r["document_id"] for r in rows} | ({doc_id} if doc_id is not None else set())
            for owner in owners:
                conn.execute(
                    "UPDATE documents SET path = ?, name = ?, updated_at = ? WHERE id = ? AND path = ?",
                    (new_path, display(new.name), now, owner, old_path),
                )
        return len(rows)

    def last_processed(self, limit: int) -> list[int]:
        """The ids of the ``limit`` documents processed last, oldest of them first."""
        rows = self.db.query(
            "SELECT id FROM documents WHERE processed_at IS NOT NULL AND status = 'done'"
            " ORDER BY processed_at DESC, id DESC LIMIT ?",
            (limit,),
        )
        return sorted(r["id"] for r in rows)

    def set_extracted(
        self, doc_id: int, *, media_type: str, title: str | None, text: str, meta: dict[str, Any]
    ) -> None:
        now = now_iso()
        self.db.conn.execute(
            "UPDATE documents SET media_type = ?, title = ?, text = ?, meta = ?, status = 'done',"
            " error = NULL, updated_at = ?, processed_at = ? WHERE id = ?",
            (media_type, title, text, dumps(meta), now, now, doc_id),
        )

    def set_status(self, doc_id: int, status: str, error: str | None = None, *, final: bool = False) -> None:
        now = now_iso()
        error = clean_text(error) if error else error
        self.db.conn.execute(
            "UPDATE documents SET status = ?, error = ?, updated_at = ?,"
            " processed_at = CASE WHEN ? THEN ? ELSE processed_at END WHERE id = ?",
            (status, error, now, final, now, doc_id),
        )

    def set_media_type(self, doc_id: int, media_type: str) -> None:
        self.db.conn.execute("UPDATE documents SET media_type = ? WHERE id = ?", (media_type, doc_id))

    def get(self, doc_id: int) -> dict[str, Any] | None:
        row = self.db.query_one("SELECT * FROM documents WHERE id = ?", (doc_id,))
        if row is not None:
            row["meta"] = json.loads(row["meta"] or "{}")
        return row

    def list(
        self,
        *,
        status: str | None = None,
        source: str | None = None,
        ids: list[int] | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
        ocr_below: float | None = None,
    ) -> list[dict[str, Any]]:
        """Documents, oldest first; ``ocr_below``: only those read by OCR whose mean word
        confidence (0-100, ``meta.ocr.confidence``) is below it."""
        where, params = [], []
        if status:
            where.append("status = ?")
            params.append(status)
        if source:
            where.append("source = ?")
            params.append(source)
        if ids is not None:
            where.append(f"id IN ({', '.join('?' * len(ids))})")
            params.extend(ids)
        if ocr_below is not None:
            where.append("json_valid(meta) AND json_extract(meta, '$.ocr.confidence') < ?")
            params.append(ocr_below)
        sql = f"SELECT {', '.join(PUBLIC_COLUMNS)} FROM documents"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC" if newest_first else " ORDER BY id"
        if limit:
            sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
        return self.db.query(sql, params)

    def locations(self, doc_id: int) -> list[dict[str, Any]]:
        return self.db.query(
            "SELECT source, path, size, mtime_ns, first_seen, last_seen FROM locations"
            " WHERE document_id = ? ORDER BY id",
            (doc_id,),
        )

    def children(self, doc_id: int) -> list[int]:
        return self.children_of([doc_id])

    def children_of(self, doc_ids: list[int]) -> list[int]:
        if not doc_ids:
            return []
        marks = ", ".join("?" * len(doc_ids))
        rows = self.db.query(f"SELECT id FROM documents WHERE parent_id IN ({marks}) ORDER BY id", doc_ids)
        return [r["id"] for r in rows]

    def id_by_sha256(self, sha256: str) -> int | None:
        return self.db.scalar("SELECT id FROM documents WHERE sha256 = ?", (sha256,))

    def texts_without_correction(self, task: str, limit: int, max_chars: int = 4000) -> list[str]:
        """The newest processed documents' texts (cut at ``max_chars``) that have no correction of
        ``task`` in force: what pseudo-rehearsal replays the model in use's answers on."""
        rows = self.db.query(
            "SELECT substr(d.text, 1, ?) AS text FROM documents d WHERE d.status = 'done' AND d.text IS NOT NULL"
            " AND length(trim(d.text)) > 0 AND NOT EXISTS (SELECT 1 FROM corrections c WHERE c.task = ?"
            " AND c.undone_at IS NULL AND (c.document_id = d.id OR c.sha256 = d.sha256))"
            " ORDER BY d.id DESC LIMIT ?",
            (max_chars, task, limit),
        )
        return [r["text"] for r in rows]

    def set_hooks_pending(self, doc_id: int, pending: bool) -> None:
        self.db.conn.execute("UPDATE documents SET hooks_pending = ? WHERE id = ?", (int(pending), doc_id))

    def hooks_pending(self, limit: int = 1000) -> list[int]:
        """Documents stored whose document_processed hooks have not all run (a crash in between)."""
        rows = self.db.query("SELECT id FROM documents WHERE hooks_pending = 1 ORDER BY id LIMIT ?", (limit,))
        return [r["id"] for r in rows]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for row in self.db.query("SELECT status, COUNT(*) AS n FROM documents GROUP BY status"):
            counts[row["status"]] = row["n"]
        return counts

"""Full-text search (the FTS5 index ``documents_fts``) and the filters search shares."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .db import StoreDB

_TERM = re.compile(r"\w+", re.UNICODE)
# title, file name, text: a word of the title counts for more than one deep in the text
WEIGHTS = (4.0, 2.0, 1.0)
SNIPPET_TOKENS = 24


@dataclass(frozen=True)
class Filters:
    """What both halves of a search keep: a classify label (a correction in force wins over the
    model's answer), a source name, documents recorded since a time (store time text)."""

    label: str | None = None
    source: str | None = None
    since: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.label or self.source or self.since)


NO_FILTERS = Filters()


def match_query(query: str) -> str | None:
    """An FTS5 query from what a person types: each word quoted (no operator or syntax error can
    come from the text), any of them matching; BM25 ranks the documents that have more, and
    rarer, of them first. None when the query has no word."""
    terms = list(dict.fromkeys(t.lower() for t in _TERM.findall(query)))
    return " OR ".join(f'"{t}"' for t in terms) if terms else None


def _where(filters: Filters, alias: str = "d") -> tuple[list[str], list[object]]:
    where: list[str] = []
    params: list[object] = []
    if filters.source:
        where.append(f"{alias}.source = ?")
        params.append(filters.source)
    if filters.since:
        where.append(f"{alias}.created_at >= ?")
        params.append(filters.since)
    if filters.label:
        where.append(
            "COALESCE((SELECT json_extract(c.value, '$.label') FROM corrections c WHERE c.task = 'classify'"
            f" AND c.undone_at IS NULL AND (c.document_id = {alias}.id OR c.sha256 = {alias}.sha256)"
            " ORDER BY c.id DESC LIMIT 1),"
            " (SELECT json_extract(r.data, '$.label') FROM step_results r"
            f" WHERE r.document_id = {alias}.id AND r.step = 'classify')) = ?"
        )
        params.append(filters.label)
    return where, params


class FullText:
    def __init__(self, db: StoreDB):
        self.db = db

    def search(self, query: str, *, filters: Filters = NO_FILTERS, limit: int = 100
               ) -> list[tuple[int, float, str]]:
        """(document id, BM25 score (higher is better), highlighted snippet), best first."""
        match = match_query(query)
        if match is None:
            return []
        where, params = _where(filters)
        sql = (
            f"SELECT d.id, bm25(documents_fts, {', '.join(map(str, WEIGHTS))}) AS rank,"
            f" snippet(documents_fts, 2, '[', ']', '…', {SNIPPET_TOKENS})"
            " FROM documents_fts JOIN documents d ON d.id = documents_fts.rowid"
            " WHERE documents_fts MATCH ?"
            + "".join(f" AND {w}" for w in where)
            + " ORDER BY rank LIMIT ?"
        )
        rows = self.db.conn.execute(sql, [match, *params, int(limit)]).fetchall()
        return [(int(r[0]), -float(r[1]), r[2] or "") for r in rows]

    def snippets(self, query: str, ids: list[int]) -> dict[int, str]:
        """Highlighted snippets of these documents where the query's words occur in them."""
        match = match_query(query)
        if match is None or not ids:
            return {}
        rows = self.db.conn.execute(
            f"SELECT rowid, snippet(documents_fts, 2, '[', ']', '…', {SNIPPET_TOKENS}) FROM documents_fts"
            f" WHERE documents_fts MATCH ? AND rowid IN ({', '.join('?' * len(ids))})",
            [match, *ids],
        ).fetchall()
        return {int(r[0]): r[1] or "" for r in rows}

    def filtered_ids(self, filters: Filters) -> set[int] | None:
        """The documents the filters keep; None when there is no filter (all of them)."""
        if filters.empty:
            return None
        where, params = _where(filters)
        rows = self.db.conn.execute(f"SELECT d.id FROM documents d WHERE {' AND '.join(where)}", params)
        return {int(r[0]) for r in rows}

    def leads(self, ids: list[int], chars: int = 200) -> dict[int, str]:
        """The first characters of each document's text (the snippet of a hit by meaning only)."""
        if not ids:
            return {}
        rows = self.db.conn.execute(
            f"SELECT id, substr(text, 1, ?) FROM documents WHERE id IN ({', '.join('?' * len(ids))})",
            [chars, *ids],
        ).fetchall()
        return {int(r[0]): r[1] or "" for r in rows}

"""What the CLI's ``--json`` and the JSON API both answer, assembled from the store."""

from __future__ import annotations

from typing import Any

from .store import Store


def document_detail(store: Store, doc_id: int) -> dict[str, Any] | None:
    """``show --json``: the document with its text, where it was found, attachments, each
    step's result, tags, rules and alerts; None when there is no such document."""
    doc = store.documents.get(doc_id)
    if doc is None:
        return None
    doc["locations"] = store.documents.locations(doc_id)
    doc["children"] = store.documents.children(doc_id)
    doc["results"] = store.results.for_document(doc_id)
    doc["tags"] = store.tags.for_document(doc_id)
    doc["rules"] = store.rule_runs.for_document(doc_id)
    doc["alerts"] = [
        {k: a[k] for k in ("id", "created_at", "kind", "name", "level", "message", "reason")}
        for a in store.alerts.for_document(doc_id)
    ]
    return doc


def search_rows(store: Store, hits: list[Any]) -> list[dict[str, Any]]:
    """``search --json``: the hits as ``list --json`` documents with ``score`` and ``snippet``."""
    docs = {d["id"]: d for d in store.documents.list(ids=[h.id for h in hits])} if hits else {}
    return [{**docs[h.id], "score": round(h.score, 6), "snippet": h.snippet} for h in hits if h.id in docs]

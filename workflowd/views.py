"""What the CLI's ``--json`` and the JSON API both answer, assembled from the store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .config import Settings
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


def describer(settings: Settings) -> Callable[[str, dict[str, Any], float | None], list[str]]:
    """step, data, confidence -> lines of text: the task's own description of its results, else
    (a plugin step without a task, or plugins that fail to load) the data's keys and values."""
    from .errors import PluginError
    from .models.provider import ModelProvider
    from .runtime import task_registry
    from .tasks.base import describe_data

    try:
        tasks = task_registry(settings)
    except PluginError:
        tasks = None
    provider = ModelProvider(settings)

    def describe(step: str, data: dict[str, Any], confidence: float | None) -> list[str]:
        if tasks is not None and step in tasks:
            return tasks.get(step)(settings, provider).describe(data, confidence)
        return describe_data(data)

    return describe


def ocr_summary(meta: dict[str, Any] | None) -> str | None:
    """One line on how a document's text was read by OCR (``meta["ocr"]``), or None."""
    ocr = (meta or {}).get("ocr") if isinstance(meta, dict) else None
    if not isinstance(ocr, dict):
        return None
    pages = [p for p in ocr.get("pages") or [] if isinstance(p, dict)]
    line = f"Tesseract ({ocr.get('languages')}), {ocr.get('pages_read', len(pages))} page(s) read"
    if ocr.get("confidence") is not None:
        line += f", mean word confidence {ocr['confidence']}"
    if len(pages) > 1:
        line += " (" + ", ".join(f"page {p.get('page')}: {p.get('confidence')}" for p in pages[:20])
        line += ", ..." if len(pages) > 20 else ""
        line += ")"
    tilted = [p for p in pages if p.get("deskewed")]
    if tilted:
        line += "; straightened: " + ", ".join(f"page {p.get('page')} by {p['deskewed']}°" for p in tilted[:20])
        line += ", ..." if len(tilted) > 20 else ""
    if ocr.get("scaled_down"):
        line += "; scaled down to ocr.max_image_pixels"
    if ocr.get("stopped"):
        line += f"; {ocr['stopped']}"
    return line

"""Documents with real files, real results and a real store, for the rules' tests."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path
from typing import Any

from workflowd.config import Settings
from workflowd.intake import take_file
from workflowd.store import Store


def settings_for(data_dir: Path, rules: list[dict[str, Any]], **extra: Any) -> Settings:
    return Settings(data_dir=data_dir, sources=[], rules=rules, **extra)


def add_document(
    store: Store,
    settings: Settings,
    path: Path,
    *,
    source: str = "folder:/inbox",
    text: str = "some text",
    title: str | None = None,
    results: dict[str, dict[str, Any]] | None = None,
    confidence: float | None = None,
    parent_id: int | None = None,
) -> int:
    """Take a real file, then store it as processed, with these step results."""
    doc_id, created = take_file(store, settings, path, source=source, pipeline="default")
    assert created, f"{path} was known already"
    job = store.jobs.claim(document_ids=[doc_id])
    assert job is not None
    with store.transaction():
        store.jobs.complete(job)
        store.documents.set_extracted(doc_id, media_type="text/plain", title=title, text=text, meta={})
        for step, data in (results or {}).items():
            store.results.save(doc_id, step, data=data, confidence=confidence if step == "classify" else None)
        if parent_id is not None:
            store.conn.execute("UPDATE documents SET parent_id = ? WHERE id = ?", (parent_id, doc_id))
    return doc_id


def classified(label: str | None, best: str = "invoice", confidence: float = 0.9) -> dict[str, Any]:
    return {"label": label, "best_guess": label or best, "scores": {best: confidence}, "abstained": label is None}


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``root``: its sha256 and mtime, by its path relative to root (bytes kept)."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            st = p.lstat()
            out[os.fsdecode(os.path.relpath(p, root))] = (sha(p) if p.is_file() else "link", st.st_mtime_ns)
    return out


def dump(db: Path) -> list[str]:
    """The database's whole content as SQL, to compare before and after."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()

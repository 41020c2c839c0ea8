"""Corrections: checking what the owner says against the document (by the task's correction
schema, workflowd/tasks/corrections.py), recording it beside what the model said, taking it
back, and moving corrections between machines as JSONL."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import CorrectionError
from .store import Store
from .tasks import CorrectionInput, CorrectionSchema, Task


def default_author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def correct(
    store: Store,
    document_id: int,
    task: Task,
    given: CorrectionInput,
    *,
    author: str | None = None,
    origin: str = "cli",
) -> dict[str, Any]:
    """Record a correction of ``task`` for a document; returns the stored row."""
    doc = store.documents.get(document_id)
    if doc is None:
        raise CorrectionError(f"no document with id {document_id}")
    value = task.correction.value(doc.get("text") or "", given, task.known_labels(store))
    return record(store, doc, task.name, value, author=author, origin=origin)


def accept(store: Store, document_id: int, task: Task, data: dict[str, Any] | None = None, *,
           author: str | None = None, origin: str = "review") -> dict[str, Any]:
    """Record the prediction of ``task`` (``data``: as shown and edited; else as stored) as
    right; CorrectionError when there is none to accept (an abstention: no label given)."""
    doc = store.documents.get(document_id)
    if doc is None:
        raise CorrectionError(f"no document with id {document_id}")
    if data is None:
        data = (store.results.for_document(document_id).get(task.name) or {}).get("data") or {}
    value = task.correction.accepted(data, doc.get("text") or "")
    if value is None:
        raise CorrectionError("nothing to accept: the model gave no answer; pick or type one")
    return record(store, doc, task.name, value, author=author, origin=origin)


def record(
    store: Store, doc: dict[str, Any], task: str, value: dict[str, Any], *, author: str | None, origin: str
) -> dict[str, Any]:
    result = store.results.for_document(doc["id"]).get(task)
    with store.transaction():
        cid = store.corrections.add(
            task,
            value,
            document_id=doc["id"],
            sha256=doc["sha256"],
            previous=result["data"] if result else None,
            model_version=result["model_version"] if result else None,
            confidence=result["confidence"] if result else None,
            author=author or default_author(),
            origin=origin,
        )
    row = store.corrections.get(cid)
    assert row is not None
    return row


def delete(store: Store, correction_id: int) -> dict[str, Any]:
    """Take a correction back (it is kept, marked undone, and no longer trains anything); the
    document's correction before it, if any, is in force again."""
    row = store.corrections.get(correction_id)
    if row is None:
        raise CorrectionError(f"no correction with id {correction_id}")
    if row["undone_at"] is not None:
        raise CorrectionError(f"correction {correction_id} was already taken back ({row['undone_at']})")
    with store.transaction():
        store.corrections.undo(correction_id)
    undone = store.corrections.get(correction_id)
    assert undone is not None
    return undone


EXPORT_KEYS = ("task", "value", "previous", "model_version", "confidence", "author", "origin", "created_at")


def export_rows(store: Store, task: str | None = None) -> Iterable[dict[str, Any]]:
    """Every correction in force or not (undone ones are left out), with the document's text, so
    that another machine can learn from it without the document."""
    texts: dict[int, str] = {}
    for row in store.corrections.list(task=task):
        text = row["text"]
        if row["document_id"] is not None:
            if row["document_id"] not in texts:
                doc = store.documents.get(row["document_id"])
                texts[row["document_id"]] = (doc or {}).get("text") or ""
            text = texts[row["document_id"]]
        yield {**{k: row[k] for k in EXPORT_KEYS}, "sha256": row["sha256"], "text": text}


def import_rows(store: Store, path: Path, schemas: Mapping[str, CorrectionSchema]) -> tuple[int, int]:
    """Add the corrections of an exported JSONL file, all or none; (added, already there).
    ``schemas``: each known task's correction schema, which checks the values."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CorrectionError(f"cannot read {path}: {exc.strerror or exc}") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CorrectionError(f"{path}, line {number}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict) or not isinstance(row.get("created_at"), str):
            raise CorrectionError(
                f"{path}, line {number}: expected an exported correction (task, value, created_at, sha256, text)"
            )
        schema = schemas.get(row.get("task"))  # type: ignore[arg-type]
        if schema is None:
            raise CorrectionError(f"{path}, line {number}: unknown task {row.get('task')!r}; tasks: "
                                  f"{', '.join(schemas)}")
        if not schema.check(row.get("value")):
            raise CorrectionError(f"{path}, line {number}: not a {row['task']} correction: {row.get('value')!r}")
        rows.append(row)
    added = skipped = 0
    with store.transaction():  # all or nothing
        for row in rows:
            sha = row.get("sha256")
            if store.corrections.exists(sha, row["task"], row["value"], row["created_at"]):
                skipped += 1
                continue
            doc_id = store.documents.id_by_sha256(sha) if sha else None
            store.corrections.add(
                row["task"],
                row["value"],
                document_id=doc_id,
                sha256=sha,
                text=None if doc_id is not None else row.get("text"),
                previous=row.get("previous"),
                model_version=row.get("model_version"),
                confidence=row.get("confidence"),
                author=row.get("author"),
                origin="import",
                created_at=row["created_at"],
            )
            added += 1
    return added, skipped

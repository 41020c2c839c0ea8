"""Corrections: checking what the owner says against the document, recording it beside what
the model said, and moving corrections between machines as JSONL.

A correction's value, per task:
- classify, sentiment: ``{"label": L}`` (sentiment: negative, neutral or positive);
- entities: ``{"entities": [{"type", "start", "end", "text"}, ...]}``, the document's whole
  list of names as it should be (an empty list: none);
- summarize: ``{"sentences": [i, ...], "summary": "..."}``, indices into the document's
  sentences (workflowd.sentences) and the text they make.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .errors import WorkflowdError
from .store import Store

TASKS = ("classify", "entities", "summarize", "sentiment")
_SPAN = re.compile(r"^([A-Za-z_]+):(\d+)-(\d+)$")


class CorrectionError(WorkflowdError):
    """A correction that does not fit its document or task."""


def default_author() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def entity_value(text: str, specs: Sequence[str]) -> dict[str, Any]:
    """``TYPE:START-END`` (character offsets) or ``TYPE=words`` (every occurrence of the words)."""
    out = []
    for spec in specs:
        m = _SPAN.match(spec)
        if m:
            typ, start, end = m.group(1).upper(), int(m.group(2)), int(m.group(3))
            if not 0 <= start < end <= len(text):
                raise CorrectionError(f"entity {spec!r}: offsets outside the text (0-{len(text)})")
            out.append({"type": typ, "start": start, "end": end, "text": text[start:end]})
            continue
        typ, sep, words = spec.partition("=")
        if not sep or not typ.strip() or not words.strip():
            raise CorrectionError(f"entity {spec!r}: write TYPE:START-END or TYPE=words")
        hits = [m.span() for m in re.finditer(rf"(?<!\w){re.escape(words.strip())}(?!\w)", text)]
        if not hits:
            raise CorrectionError(f"entity {spec!r}: {words.strip()!r} is not in the document's text")
        out += [{"type": typ.strip().upper(), "start": a, "end": b, "text": text[a:b]} for a, b in hits]
    out.sort(key=lambda e: (e["start"], e["end"]))
    for a, b in zip(out, out[1:], strict=False):
        if b["start"] < a["end"]:
            raise CorrectionError(f"entities {a['text']!r} and {b['text']!r} overlap")
    return {"entities": out}


def summary_value(
    text: str, indices: Sequence[int] | None = None, summary: str | None = None
) -> dict[str, Any]:
    from .sentences import split_sentences

    sentences = split_sentences(text)
    if indices is None:
        wanted = split_sentences(summary or "")
        by_text = {s.text: i for i, s in reversed(list(enumerate(sentences)))}
        missing = [w.text for w in wanted if w.text not in by_text] if wanted else []
        if not wanted or missing:
            raise CorrectionError(
                "a summary correction is made of the document's own sentences; not found: "
                + (repr(missing[0]) if missing else "(empty summary)")
            )
        indices = [by_text[w.text] for w in wanted]
    bad = [i for i in indices if not 0 <= i < len(sentences)]
    if bad or not indices:
        raise CorrectionError(f"sentence numbers run from 0 to {len(sentences) - 1}; got {list(indices)}")
    chosen = sorted(set(indices))
    return {"sentences": chosen, "summary": " ".join(sentences[i].text for i in chosen)}


def label_value(task: str, label: str) -> dict[str, Any]:
    label = label.strip()
    if not label:
        raise CorrectionError("the label is empty")
    if task == "sentiment":
        from .sentiment import normalise_label

        norm = normalise_label(label)
        if norm is None:
            raise CorrectionError(f"sentiment label {label!r}: use negative, neutral or positive")
        return {"label": norm}
    return {"label": label}


def correct(
    store: Store,
    document_id: int,
    task: str,
    *,
    label: str | None = None,
    entities: Sequence[str] | None = None,
    sentences: Sequence[int] | None = None,
    summary: str | None = None,
    author: str | None = None,
    origin: str = "cli",
) -> dict[str, Any]:
    """Record a correction of ``task`` for a document; returns the stored row."""
    if task not in TASKS:
        raise CorrectionError(f"unknown task {task!r}; tasks: {', '.join(TASKS)}")
    doc = store.documents.get(document_id)
    if doc is None:
        raise CorrectionError(f"no document with id {document_id}")
    text = doc.get("text") or ""
    if task in ("classify", "sentiment"):
        if label is None:
            raise CorrectionError(f"a {task} correction needs a label")
        value = label_value(task, label)
    elif task == "entities":
        if entities is None:
            raise CorrectionError("an entities correction needs the entities (an empty list for none)")
        value = entity_value(text, entities)
    else:
        if sentences is None and summary is None:
            raise CorrectionError("a summarize correction needs sentence numbers or the summary text")
        value = summary_value(text, sentences, summary)
    result = store.results.for_document(document_id).get(task)
    with store.transaction():
        cid = store.corrections.add(
            task,
            value,
            document_id=document_id,
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


def import_rows(store: Store, path: Path) -> tuple[int, int]:
    """Add the corrections of an exported JSONL file; (added, already there)."""
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
        if (
            not isinstance(row, dict)
            or row.get("task") not in TASKS
            or not isinstance(row.get("value"), dict)
            or not isinstance(row.get("created_at"), str)
        ):
            raise CorrectionError(
                f"{path}, line {number}: expected an exported correction "
                "(task, value, created_at, sha256, text)"
            )
        rows.append(row)
    added = skipped = 0
    with store.transaction():  # all or nothing
        for row in rows:
            sha = row.get("sha256")
            if store.corrections.exists(sha, row["task"], row["value"], row["created_at"]):
                skipped += 1
                continue
            doc_id = store.scalar("SELECT id FROM documents WHERE sha256 = ?", (sha,)) if sha else None
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

"""The review queue: step results the owner has not answered yet, least confident first.

Uncertainty sampling: the answers that teach a model most are those it was least sure of.
Each answer is a correction written at once (workflowd.corrections), so quitting at any
moment loses nothing already answered; accepting a prediction records it as confirmed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .corrections import TASKS, correct
from .store import Store

SENTIMENT_LABELS = ("negative", "neutral", "positive")


@dataclass
class Item:
    document_id: int
    task: str
    confidence: float | None
    data: dict[str, Any]
    model_version: str | None
    name: str | None
    title: str | None
    source: str | None
    created_at: str
    text: str = ""

    @property
    def predicted_label(self) -> str | None:
        if self.task == "classify":
            return self.data.get("label") or self.data.get("best_guess")
        if self.task == "sentiment":
            return self.data.get("label")
        return None

    def label_options(self) -> list[str]:
        """Labels to pick by number: classify's by probability, sentiment's three."""
        if self.task == "classify":
            scores = self.data.get("scores") or {}
            return sorted(scores, key=lambda k: -scores[k])
        if self.task == "sentiment":
            return list(SENTIMENT_LABELS)
        return []


def queue(
    store: Store,
    *,
    tasks: tuple[str, ...] = TASKS,
    source: str | None = None,
    label: str | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> list[Item]:
    """Results without a correction in force, the least confident first (no confidence: last)."""
    where = ["r.status = 'ok'", "d.status = 'done'", f"r.step IN ({','.join('?' * len(tasks))})"]
    params: list[Any] = list(tasks)
    if source:
        where.append("d.source = ?")
        params.append(source)
    if since:
        where.append("d.created_at >= ?")
        params.append(since)
    rows = store.query(
        "SELECT r.document_id, r.step, r.confidence, r.data, r.model_version, d.name, d.title, d.source,"
        " d.created_at FROM step_results r JOIN documents d ON d.id = r.document_id"
        f" WHERE {' AND '.join(where)} AND NOT EXISTS (SELECT 1 FROM corrections c WHERE"
        " c.document_id = r.document_id AND c.task = r.step AND c.undone_at IS NULL)"
        " ORDER BY r.confidence IS NULL, r.confidence, r.document_id",
        params,
    )
    items = []
    for r in rows:
        item = Item(
            r["document_id"],
            r["step"],
            r["confidence"],
            json.loads(r["data"] or "{}"),
            r["model_version"],
            r["name"],
            r["title"],
            r["source"],
            r["created_at"],
        )
        if label and item.predicted_label != label:
            continue
        items.append(item)
        if limit and len(items) >= limit:
            break
    return items


@dataclass
class Session:
    """One review: answers written as they are given; undo takes the last one back."""

    store: Store
    items: list[Item]
    author: str | None = None
    position: int = 0
    answered: list[tuple[int, int]] = field(default_factory=list)  # (correction id, item position)

    @property
    def current(self) -> Item | None:
        if self.position < len(self.items):
            item = self.items[self.position]
            if not item.text:
                doc = self.store.documents.get(item.document_id) or {}
                item.text = doc.get("text") or ""
            return item
        return None

    def _answer(self, **kw: Any) -> dict[str, Any]:
        item = self.current
        assert item is not None
        task = kw.pop("task", item.task)
        row = correct(self.store, item.document_id, task, author=self.author, origin="review", **kw)
        self.answered.append((row["id"], self.position))
        if task == item.task:
            self.position += 1
        return row

    def accept(self) -> dict[str, Any]:
        """The prediction is right: record it as the answer."""
        item = self.current
        assert item is not None
        if item.task in ("classify", "sentiment"):
            label = item.predicted_label
            if label is None:
                raise ValueError("nothing to accept: the model gave no label; pick one")
            return self._answer(label=label)
        if item.task == "entities":
            return self._answer(
                entities=[f"{e['type']}:{e['start']}-{e['end']}" for e in item.data.get("entities", [])]
            )
        return self._answer(sentences=[s["index"] for s in item.data.get("sentences", [])])

    def label(self, label: str) -> dict[str, Any]:
        return self._answer(label=label)

    def entities(self, specs: list[str]) -> dict[str, Any]:
        return self._answer(entities=specs)

    def summary(self, sentences: list[int]) -> dict[str, Any]:
        return self._answer(sentences=sentences)

    def sentiment(self, label: str) -> dict[str, Any]:
        """Mark the document's sentiment, whatever the item's task."""
        item = self.current
        assert item is not None
        return self._answer(task="sentiment", label=label)

    def skip(self) -> None:
        self.position += 1

    def undo(self) -> dict[str, Any] | None:
        """Take back the last answer of this session and show its document again."""
        if not self.answered:
            return None
        cid, position = self.answered.pop()
        with self.store.transaction():
            self.store.corrections.undo(cid)
        self.position = position
        return self.store.corrections.get(cid)

"""The review queue: step results the owner has not answered yet, least confident first.

Uncertainty sampling: the answers that teach a model most are those it was least sure of.
Each answer is a correction written at once (workflowd.corrections), so quitting at any
moment loses nothing already answered; accepting a prediction records it as confirmed. What
an answer looks like is the task's correction schema (workflowd/tasks/corrections.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .corrections import accept, correct
from .store import Store
from .tasks import CorrectionInput, LabelCorrection, Task


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
    kind: str = "json"  # the kind of the task's correction schema: label, spans, sentences, json


def queue(
    store: Store,
    tasks: Mapping[str, Task],
    *,
    source: str | None = None,
    label: str | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> list[Item]:
    """Results of ``tasks`` without a correction in force, the least confident first (no
    confidence: last); ``label``: only those whose predicted label is this one."""
    items = []
    for r in store.results.unanswered(list(tasks), source=source, since=since):
        schema = tasks[r["step"]].correction
        if label is not None:
            predicted = schema.predicted(r["data"]) if isinstance(schema, LabelCorrection) else None
            if predicted is None or predicted.casefold() != label.casefold():
                continue
        items.append(
            Item(r["document_id"], r["step"], r["confidence"], r["data"], r["model_version"], r["name"],
                 r["title"], r["source"], r["created_at"], kind=schema.kind)
        )
        if limit and len(items) >= limit:
            break
    return items


@dataclass
class Session:
    """One review: answers written as they are given; undo takes the last one back."""

    store: Store
    items: list[Item]
    tasks: Mapping[str, Task]
    author: str | None = None
    position: int = 0
    answered: list[tuple[int, int]] = field(default_factory=list)  # (correction id, item position)
    typed: list[str] = field(default_factory=list)  # labels typed in this session, newest first

    @property
    def current(self) -> Item | None:
        if self.position < len(self.items):
            item = self.items[self.position]
            if not item.text:
                doc = self.store.documents.get(item.document_id) or {}
                item.text = doc.get("text") or ""
            return item
        return None

    def options(self, item: Item) -> list[str]:
        """Labels to pick by number (label tasks): by probability, then the labels typed in this
        session, then the other known ones."""
        task = self.tasks[item.task]
        schema = task.correction
        if not isinstance(schema, LabelCorrection):
            return []
        return schema.options(item.data, task.known_labels(self.store), self.typed)

    def _done(self, row: dict[str, Any], answered: str) -> dict[str, Any]:
        self.answered.append((row["id"], self.position))
        item = self.current
        if item is not None and answered == item.task:
            self.position += 1
        return row

    def accept(self) -> dict[str, Any]:
        """The prediction as shown (names deleted or added included) is right: record it as the
        answer (CorrectionError on an abstention)."""
        item = self.current
        assert item is not None
        row = accept(self.store, item.document_id, self.tasks[item.task], item.data, author=self.author)
        return self._done(row, item.task)

    def answer(self, given: CorrectionInput, task: str | None = None) -> dict[str, Any]:
        """Record an answer for the current document (``task``: another task than the item's,
        e.g. its sentiment while reviewing its label)."""
        item = self.current
        assert item is not None
        name = task or item.task
        row = correct(self.store, item.document_id, self.tasks[name], given, author=self.author, origin="review")
        label = row["value"].get("label")
        if given.label is not None and isinstance(label, str) and name == item.task:
            self.typed = [label, *[t for t in self.typed if t != label]]
        return self._done(row, name)

    def label(self, label: str) -> dict[str, Any]:
        return self.answer(CorrectionInput(label=label))

    def summary(self, sentences: Sequence[int]) -> dict[str, Any]:
        return self.answer(CorrectionInput(sentences=list(sentences)))

    def sentiment(self, label: str) -> dict[str, Any]:
        """Mark the document's sentiment, whatever the item's task."""
        return self.answer(CorrectionInput(label=label), task="sentiment")

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

"""What a correction of a task looks like: a label, a list of spans, a choice of sentences, or
(for a plugin task that needs none of these) a JSON object.

A schema turns what the owner gave (``workflowd correct`` flags, ``workflowd review`` keys)
into the value that is stored and trained on, checked against the document; it also says
what accepting a prediction records, and which labels to offer. ``workflowd review`` shows
each kind of schema its own way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import CorrectionError

_SPAN = re.compile(r"^([A-Za-z_]+):(\d+)-(\d+)$")


@dataclass
class CorrectionInput:
    """What the owner gave; each schema reads the part it needs."""

    label: str | None = None
    entities: Sequence[str] | None = None  # TYPE:START-END or TYPE=words; [] for none
    sentences: Sequence[int] | None = None
    summary: str | None = None
    value: str | None = None  # a JSON object (plugin tasks)


class CorrectionSchema:
    kind: ClassVar[str]

    def value(self, text: str, given: CorrectionInput, known: Sequence[str] = ()) -> dict[str, Any]:
        """The value to store; CorrectionError when it does not fit the document or the task."""
        raise NotImplementedError

    def accepted(self, data: dict[str, Any], text: str) -> dict[str, Any] | None:
        """The prediction ``data`` as a correction value, or None when it has nothing to accept."""
        return dict(data)

    def check(self, value: Any) -> bool:
        """Whether an imported value has the shape of this schema's values."""
        return isinstance(value, dict)


def fold_label(label: str) -> str:
    """What labels are compared by: case and spacing do not count."""
    return " ".join(label.split()).casefold()


@dataclass(frozen=True)
class LabelCorrection(CorrectionSchema):
    """One label per document. ``labels``: the only labels there are (sentiment), with
    ``aliases`` read as them; without them any label is taken, matched without regard to case
    and spacing to the labels known so far (``Entertainment`` is ``entertainment``)."""

    kind: ClassVar[str] = "label"
    labels: tuple[str, ...] = ()
    aliases: Callable[[str], str | None] | None = field(default=None, compare=False)

    def canonical(self, label: str, known: Sequence[str] = ()) -> str:
        label = " ".join(label.split())
        if not label:
            raise CorrectionError("the label is empty")
        if self.labels:
            found = self.aliases(label) if self.aliases else None
            found = found or next((k for k in self.labels if fold_label(k) == fold_label(label)), None)
            if found is None:
                choices = ", ".join(self.labels[:-1]) + f" or {self.labels[-1]}"
                raise CorrectionError(f"label {label!r}: use {choices}")
            return found
        return next((k for k in known if fold_label(k) == fold_label(label)), label)

    def value(self, text: str, given: CorrectionInput, known: Sequence[str] = ()) -> dict[str, Any]:
        if given.label is None:
            raise CorrectionError("this correction needs a label (--label)")
        return {"label": self.canonical(given.label, known)}

    def accepted(self, data: dict[str, Any], text: str) -> dict[str, Any] | None:
        label = data.get("label")
        return {"label": label} if isinstance(label, str) and label else None

    def predicted(self, data: dict[str, Any]) -> str | None:
        """The label given, or the best guess of an abstention."""
        return data.get("label") or data.get("best_guess")

    def options(
        self, data: dict[str, Any], known: Sequence[str] = (), extra: Sequence[str] = (), slots: int = 9
    ) -> list[str]:
        """Labels to pick from: the fixed ones; else the likeliest, with ``extra`` (labels typed
        in this review, newest first; at most a third of them) among the first ``slots``, then
        the other known ones."""
        if self.labels:
            return list(self.labels)
        scores = data.get("scores") or {}
        ranked = sorted(scores, key=lambda k: -scores[k])
        pool = list(dict.fromkeys([*ranked, *extra, *known]))
        wanted = [x for x in extra if x in pool][: max(1, slots // 3)]
        top = [x for x in ranked if x not in wanted][: slots - len(wanted)]
        first = top + [x for x in wanted if x not in top]
        out = first + [x for x in pool if x not in first]
        seen: set[str] = set()  # one entry per label, whatever its case
        return [x for x in out if not (fold_label(x) in seen or seen.add(fold_label(x)))]

    def check(self, value: Any) -> bool:
        return isinstance(value, dict) and isinstance(value.get("label"), str) and bool(value["label"].strip())


@dataclass(frozen=True)
class SpansCorrection(CorrectionSchema):
    """The document's whole list of spans as it should be (an empty list: none), each
    ``{"type", "start", "end", "text"}`` with character offsets into the text."""

    kind: ClassVar[str] = "spans"

    def value(self, text: str, given: CorrectionInput, known: Sequence[str] = ()) -> dict[str, Any]:
        if given.entities is None:
            raise CorrectionError("this correction needs the entities (--entity ..., or --no-entities for none)")
        return entity_value(text, given.entities)

    def accepted(self, data: dict[str, Any], text: str) -> dict[str, Any] | None:
        specs = [f"{e['type']}:{e['start']}-{e['end']}" for e in data.get("entities") or []]
        return entity_value(text, specs)

    def check(self, value: Any) -> bool:
        return isinstance(value, dict) and isinstance(value.get("entities"), list)


@dataclass(frozen=True)
class SentencesCorrection(CorrectionSchema):
    """The sentences of the document that make its summary: ``{"sentences": [i, ...],
    "summary": "..."}``, indices into workflowd.sentences' split of the text."""

    kind: ClassVar[str] = "sentences"

    def value(self, text: str, given: CorrectionInput, known: Sequence[str] = ()) -> dict[str, Any]:
        if given.sentences is None and given.summary is None:
            raise CorrectionError("this correction needs sentence numbers (--sentences) or the summary (--summary)")
        return summary_value(text, given.sentences, given.summary)

    def accepted(self, data: dict[str, Any], text: str) -> dict[str, Any] | None:
        picked = [s["index"] for s in data.get("sentences") or []]
        return summary_value(text, picked) if picked else None

    def check(self, value: Any) -> bool:
        return isinstance(value, dict) and isinstance(value.get("summary"), str)


@dataclass(frozen=True)
class JsonCorrection(CorrectionSchema):
    """Any JSON object (``workflowd correct ID --task T --value '{...}'``): for plugin tasks."""

    kind: ClassVar[str] = "json"

    def value(self, text: str, given: CorrectionInput, known: Sequence[str] = ()) -> dict[str, Any]:
        if given.value is None:
            raise CorrectionError("this correction needs a JSON object (--value)")
        try:
            value = json.loads(given.value)
        except json.JSONDecodeError as exc:
            raise CorrectionError(f"--value is not JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise CorrectionError("--value must be a JSON object")
        return value


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
    """Sentence numbers (or the summary's own sentences, found in the text) as a summary value."""
    from ..sentences import split_sentences

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

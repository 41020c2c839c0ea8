"""A rule's ``when``: each condition says whether it held, with the value it saw."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..filenames import display
from .context import Subject
from .settings import When


@dataclass(frozen=True)
class Check:
    """One condition's answer: ``condition`` is its key in ``when``; ``detail`` says why."""

    condition: str
    passed: bool
    detail: str


def evaluate(when: When, subject: Subject) -> list[Check]:
    """Every condition ``when`` sets, in the order of its keys (all are checked, for the record)."""
    return [_CHECKS[key](when, subject) for key in When.model_fields if getattr(when, key) is not None]


def matched(checks: list[Check]) -> bool:
    return all(c.passed for c in checks)


def _listing(values: list[str]) -> str:
    return "[" + ", ".join(values) + "]"


def _short(value: object, limit: int = 80) -> str:
    text = display(str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _label(when: When, s: Subject) -> Check:
    wanted = when.label or []
    if not s.classified:
        return Check("label", False, "label: classify has no result for this document")
    if s.label is None:
        return Check("label", False, f"label: none (classify abstained; best guess {s.best_guess}), "
                                     f"not one of {_listing(wanted)}")
    ok = s.label.casefold() in {w.casefold() for w in wanted}
    return Check("label", ok, f"label: {s.label} is {'' if ok else 'not '}one of {_listing(wanted)}")


def _labelled(when: When, s: Subject) -> Check:
    if not s.classified:
        seen, has = "classify has no result for this document", False
    elif s.label is None:
        seen, has = f"classify abstained (best guess {s.best_guess}, {_score(s.confidence)})", False
    else:
        seen, has = f"classify gave {s.label}", True
    want = "wanted a label" if when.labelled else "wanted no label"
    return Check("labelled", has == when.labelled, f"labelled: {seen}; {want}")


def _score(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}"


def _min_confidence(when: When, s: Subject) -> Check:
    c, limit = s.confidence, when.min_confidence
    if c is None:
        return Check("min_confidence", False, "confidence: classify has no result for this document")
    ok = c >= limit  # type: ignore[operator]
    return Check("min_confidence", ok, f"confidence: {c:.2f} {'≥' if ok else '<'} {limit}")


def _tag(when: When, s: Subject) -> Check:
    wanted, have = when.tag or [], s.all_tags
    ok = bool(set(wanted) & set(have))
    return Check("tag", ok, f"tags: {_listing(have)} {'include' if ok else 'include none of'} "
                            f"{'one of ' if ok else ''}{_listing(wanted)}")


def _glob(key: str, shown: str, value: str, patterns: list[str], fold: bool) -> Check:
    match: Callable[[str, str], bool] = (
        (lambda v, p: fnmatch.fnmatchcase(v.casefold(), p.casefold())) if fold else fnmatch.fnmatchcase
    )
    hit = next((p for p in patterns if match(value, p)), None)
    if hit is not None:
        return Check(key, True, f"{key}: {_short(shown)} matches {hit}")
    return Check(key, False, f"{key}: {_short(shown)} matches none of {_listing(patterns)}")


def _source(when: When, s: Subject) -> Check:
    value = s.doc.get("source") or ""
    return _glob("source", value, value, when.source or [], fold=False)


def _media_type(when: When, s: Subject) -> Check:
    value = s.doc.get("media_type") or ""
    return _glob("media_type", value, value, when.media_type or [], fold=True)


def _name(when: When, s: Subject) -> Check:
    return _glob("name", s.shown_name, s.shown_name, when.name or [], fold=True)


def _path(when: When, s: Subject) -> Check:
    return _glob("path", s.shown_path, s.shown_path, when.path or [], fold=False)


def _text(when: When, s: Subject) -> Check:
    found = re.search(when.text or "", s.doc.get("text") or "", re.IGNORECASE)
    if found:
        return Check("text", True, f"text: /{when.text}/ found {_short(found.group(0), 60)!r}")
    return Check("text", False, f"text: /{when.text}/ not found")


def _entity(when: When, s: Subject) -> Check:
    cond = when.entity
    assert cond is not None
    pattern = re.compile(cond.pattern) if cond.pattern else None
    wanted = " ".join(x for x in (cond.type or "any type", f"matching /{cond.pattern}/" if pattern else "") if x)
    for e in s.entities:
        if cond.type and str(e.get("type", "")).casefold() != cond.type.casefold():
            continue
        if pattern and not pattern.search(str(e.get("text", ""))):
            continue
        return Check("entity", True, f"entity: {e.get('type')} {_short(e.get('text'), 60)!r} is {wanted}")
    types = sorted({str(e.get("type")) for e in s.entities})
    seen = f"found only {_listing(types)}" if types else "none found"
    return Check("entity", False, f"entity: no entity of {wanted} ({seen})")


def _sentiment(when: When, s: Subject) -> Check:
    wanted = when.sentiment or []
    if s.sentiment is None:
        return Check("sentiment", False, "sentiment: the sentiment step has no result for this document")
    ok = s.sentiment.casefold() in {w.casefold() for w in wanted}
    shown = wanted[0] if len(wanted) == 1 else f"one of {_listing(wanted)}"
    return Check("sentiment", ok, f"sentiment: {s.sentiment} is {'' if ok else 'not '}{shown}")


def _score_bound(key: str, limit: float | None, s: Subject, low: bool) -> Check:
    score = s.sentiment_score
    if score is None:
        return Check(key, False, "sentiment score: the sentiment step has no result for this document")
    ok = score >= limit if low else score <= limit  # type: ignore[operator]
    sign = ("≥" if ok else "<") if low else ("≤" if ok else ">")
    return Check(key, ok, f"sentiment score: {score:.2f} {sign} {limit}")


def _is_attachment(when: When, s: Subject) -> Check:
    parent = s.doc.get("parent_id")
    seen = f"an attachment of document {parent}" if parent else "not an attachment"
    ok = (parent is not None) == when.is_attachment
    return Check("is_attachment", ok, f"is_attachment: {seen}")


_CHECKS: dict[str, Callable[[When, Subject], Check]] = {
    "label": _label,
    "labelled": _labelled,
    "min_confidence": _min_confidence,
    "tag": _tag,
    "source": _source,
    "media_type": _media_type,
    "name": _name,
    "path": _path,
    "text": _text,
    "entity": _entity,
    "sentiment": _sentiment,
    "min_sentiment_score": lambda w, s: _score_bound("min_sentiment_score", w.min_sentiment_score, s, True),
    "max_sentiment_score": lambda w, s: _score_bound("max_sentiment_score", w.max_sentiment_score, s, False),
    "is_attachment": _is_attachment,
}

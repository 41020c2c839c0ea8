"""Surges: the share of one sentiment label in a scope's newest ``window`` documents against the
``baseline`` documents before them, by a one-sided exact binomial test.

Counted in documents, not hours; only documents labelled by the sentiment model of the newest one
(a new model starts a new baseline); near-duplicates count once."""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..store.surges import Scored
from .make import make_alert
from .settings import SurgeSettings

if TYPE_CHECKING:  # config imports alerts.settings: at run time this would be a cycle
    from ..config import Settings
    from ..store import Store

KIND = "surge"
_BLOCK = 512  # rows of the similarity matrix computed at once


@dataclass(frozen=True)
class SurgeTest:
    """One test: ``k`` of ``n`` in the window against ``b`` of ``m`` in the baseline."""

    k: int
    n: int
    b: int
    m: int
    p0: float  # the baseline share, smoothed: (b + 0.5) / (m + 1)
    p: float  # P(X >= k) for X ~ Binomial(n, p0)
    surge: bool  # k >= min_count, k/n >= factor * p0 and p < alpha


@functools.lru_cache(maxsize=8192)
def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), exact, summed in log space (no overflow for large n)."""
    if k <= 0 or p >= 1.0:
        return 1.0
    if k > n or p <= 0.0:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    logs = [math.log(math.comb(n, i)) + i * lp + (n - i) * lq for i in range(k, n + 1)]
    top = max(logs)
    return min(1.0, math.exp(top) * math.fsum(math.exp(x - top) for x in logs))


def baseline_share(b: int, m: int) -> float:
    """The baseline share with half a document added to each side (Jeffreys), so that a baseline
    with none (or all) of the label still gives a share strictly between 0 and 1."""
    return (b + 0.5) / (m + 1)


def surge_test(k: int, b: int, surge: SurgeSettings) -> SurgeTest:
    """Test ``k`` hits in a window of ``surge.window`` against ``b`` in a baseline of ``surge.baseline``."""
    n, m = surge.window, surge.baseline
    p0 = baseline_share(b, m)
    p = binomial_tail(k, n, p0)
    return SurgeTest(k, n, b, m, p0, p, k >= surge.min_count and k / n >= surge.factor * p0 and p < surge.alpha)


def evaluate(hits: Sequence[bool], surge: SurgeSettings) -> SurgeTest | None:
    """Test the newest ``window`` of ``hits`` (oldest first) against the ``baseline`` before them;
    None until there are that many."""
    need = surge.window + surge.baseline
    if len(hits) < need:
        return None
    recent = hits[len(hits) - surge.window:]
    before = hits[len(hits) - need: len(hits) - surge.window]
    return surge_test(sum(map(bool, recent)), sum(map(bool, before)), surge)


def text_key(text: str | None) -> str | None:
    """A hash of the text with case, punctuation and spacing folded away; None for no words."""
    words = re.findall(r"\w+", (text or "").casefold())
    return hashlib.sha256(" ".join(words).encode("utf-8")).hexdigest() if words else None


def collapse(items: Sequence[Scored], threshold: float) -> list[Scored]:
    """The items that count, oldest first: one whose embedding has a cosine of at least
    ``threshold`` with one already counted is a copy, and so is one without a usable embedding
    whose folded text matches one already counted (with no words at all, it counts)."""
    ref = next((i for i in reversed(items) if i.vector is not None), None)
    rows = [
        j for j, i in enumerate(items)
        if ref is not None and i.vector is not None and i.encoder == ref.encoder and i.vector.shape == ref.vector.shape
    ]
    close = np.zeros((0, 0), dtype=bool)
    if rows:
        vectors = np.stack([items[j].vector for j in rows]).astype(np.float32)  # type: ignore[misc]
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        close = np.zeros((len(rows), len(rows)), dtype=bool)
        for start in range(0, len(rows), _BLOCK):
            close[start:start + _BLOCK] = vectors[start:start + _BLOCK] @ vectors.T >= threshold - 1e-6
    row_of = {j: r for r, j in enumerate(rows)}
    counted = np.zeros(len(rows), dtype=bool)
    seen: set[str] = set()
    out = []
    for j, item in enumerate(items):
        r = row_of.get(j)
        if r is not None:
            if close[r][counted].any():
                continue
            counted[r] = True
        else:
            key = text_key(item.text)
            if key is not None:
                if key in seen:
                    continue
                seen.add(key)
        out.append(item)
    return out


def format_p(p: float) -> str:
    """4 decimals, or scientific notation below 0.0001."""
    return f"{p:.4f}" if p >= 0.0001 else f"{p:.1e}"


def _percent(share: float) -> str:
    if share == 0 or share >= 0.01:
        return f"{share:.0%}"
    return f"{share:.1%}"


def reason(test: SurgeTest, label: str) -> str:
    """E.g. "11 of 16 negative against 24% before, p = 0.0002" (the baseline's share as counted)."""
    return f"{test.k} of {test.n} {label} against {_percent(test.b / test.m)} before, p = {format_p(test.p)}"


def scope_name(kind: str, value: str | None) -> str:
    """The alert's scope: ``all``, or e.g. ``source:inbox``, ``label:invoice``, ``tag:finance``."""
    return "all" if kind == "all" else f"{kind}:{value}"


def scopes(surge: SurgeSettings, store: Store, doc_id: int, source: str | None,
           results: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The surge's scopes this document belongs to: all; its source; its classify label; its tags."""
    if surge.scope == "all":
        return [("all", None)]
    if surge.scope == "source":
        values = [source] if source else []
    elif surge.scope == "label":
        data = (results.get("classify") or {}).get("data") or {}
        label = data.get("label") if (results.get("classify") or {}).get("status") == "ok" else None
        values = [label] if isinstance(label, str) else []
    else:
        values = sorted(store.tags.for_document(doc_id))
    return [(surge.scope, v) for v in values if not surge.only or v in surge.only]


def window_of(store: Store, surge: SurgeSettings, kind: str, value: str | None, *, doc_id: int,
              model_version: str | None) -> list[Scored] | None:
    """The newest ``baseline`` + ``window`` counted documents of one scope (fewer while there are
    fewer), oldest first; None when ``doc_id`` is not among the window's (a copy brings nothing new)."""
    need = surge.window + surge.baseline
    limit = 2 * need
    while True:
        newest_first = store.surges.stream(kind, value, model_version=model_version, limit=limit,
                                           attachments=surge.attachments)
        counted = collapse(newest_first[::-1], surge.duplicates)
        if len(counted) >= need or len(newest_first) < limit or limit >= 8 * need:
            break
        limit *= 2  # many copies: look further back
    counted = counted[-need:]
    if doc_id not in {i.document_id for i in counted[-surge.window:]}:
        return None
    return counted


def watch(store: Store, settings: Settings, surge: SurgeSettings, *, doc_id: int, source: str | None,
          results: dict[str, Any], now: datetime | None = None) -> list[int]:
    """Test each of the surge's scopes this newly processed document belongs to; make an alert for
    each surge found outside its cooldown. Returns the new alerts' ids."""
    sentiment = results.get("sentiment") or {}
    if sentiment.get("status") != "ok" or not sentiment.get("data"):
        return []
    now = (now or datetime.now(UTC)).astimezone(UTC)
    made = []
    for kind, value in scopes(surge, store, doc_id, source, results):
        counted = window_of(store, surge, kind, value, doc_id=doc_id, model_version=sentiment.get("model_version"))
        if counted is None:
            continue
        test = evaluate([i.label == surge.sentiment for i in counted], surge)
        if test is None or not test.surge:
            continue
        scope = scope_name(kind, value)
        last = store.alerts.last_time(KIND, surge.name, scope)
        if last is not None and (now - _parse_time(last)).total_seconds() < surge.cooldown:
            continue
        documents = [i.document_id for i in counted[-surge.window:] if i.label == surge.sentiment]
        made.append(make_alert(
            store, settings, kind=KIND, name=surge.name, level=surge.level,
            message=f"surge of {surge.sentiment} documents" + ("" if kind == "all" else f" in {kind} {value}"),
            reason=reason(test, surge.sentiment),
            documents=documents, notify=surge.notify, scope=scope, document_id=doc_id, now=now,
        ))
    return made


def _parse_time(text: str) -> datetime:
    when = datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=UTC)

"""Search: by words (SQLite FTS5, BM25), by meaning (the embedding stored for every document,
the query encoded by the same encoder) and both at once (hybrid, the default).

Hybrid search fuses the two lists by a convex combination of their scores, each min-max
normalised over the best ``POOL`` hits of its own list (Bruch, Gai and Ingber 2023, "An
Analysis of Fusion Functions for Hybrid Retrieval"): score = 0.5 x words + 0.5 x meaning, a
document that one half did not find getting 0 from it. On a development part of BBC News it
beat reciprocal rank fusion (MRR@10 0.683 against 0.626 over three kinds of query: the score
keeps how far ahead a strong full-text match is, which ranks alone lose); the weight is the
plain mean, not tuned. benchmarks/search_bbc.py measures the three modes on held-out articles.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import DataError
from .store import Filters, Store
from .store.search import NO_FILTERS

MODES = ("hybrid", "text", "semantic")
TEXT_WEIGHT = 0.5  # of the full-text score in the fusion; the rest is the score by meaning
POOL = 100  # the hits each half brings to the fusion
LEAD_CHARS = 200


@dataclass
class Hit:
    id: int
    score: float
    snippet: str
    text_rank: int | None = None  # 1-based place in the full-text list
    semantic_rank: int | None = None  # 1-based place in the list by meaning


def search(
    store: Store,
    query: str,
    *,
    encode: Callable[[str], np.ndarray] | None,
    encoder_name: str,
    mode: str = "hybrid",
    filters: Filters = NO_FILTERS,
    limit: int = 10,
) -> list[Hit]:
    """The best ``limit`` documents for ``query``; ``encode`` gives a query's normalised
    embedding (needed unless ``mode`` is ``text``)."""
    if mode not in MODES:
        raise DataError(f"unknown search mode {mode!r}; use one of {', '.join(MODES)}")
    if not query.strip():
        raise DataError("the search query is empty")
    text = store.fulltext.search(query, filters=filters, limit=max(POOL, limit)) if mode != "semantic" else []
    by_meaning: list[tuple[int, float]] = []
    if mode != "text":
        if encode is None:
            raise DataError("search by meaning needs the encoder")
        by_meaning = nearest(store, encode(query), encoder_name, filters=filters, limit=max(POOL, limit))
    if mode == "text":
        hits = [Hit(i, score, snip, text_rank=k) for k, (i, score, snip) in enumerate(text, 1)]
    elif mode == "semantic":
        hits = [Hit(i, score, "", semantic_rank=k) for k, (i, score) in enumerate(by_meaning, 1)]
    else:
        hits = fuse(text, by_meaning)
    hits = hits[:limit]
    _fill_snippets(store, query, hits)
    return hits


def fuse(text: list[tuple[int, float, str]], by_meaning: list[tuple[int, float]]) -> list[Hit]:
    """The convex combination of the two lists' min-max normalised scores, best first (ties:
    the smaller id)."""
    found: dict[int, Hit] = {}
    for k, ((i, _score, snip), norm) in enumerate(zip(text, _minmax([s for _i, s, _ in text]), strict=True), 1):
        found[i] = Hit(i, TEXT_WEIGHT * norm, snip, text_rank=k)
    for k, ((i, _score), norm) in enumerate(zip(by_meaning, _minmax([s for _i, s in by_meaning]), strict=True), 1):
        hit = found.setdefault(i, Hit(i, 0.0, ""))
        hit.score += (1 - TEXT_WEIGHT) * norm
        hit.semantic_rank = k
    return sorted(found.values(), key=lambda h: (-h.score, h.id))


def _minmax(scores: list[float]) -> list[float]:
    """Scores mapped onto [0, 1] (all 1 when they are equal)."""
    if not scores:
        return []
    lo, hi = min(scores), max(scores)
    return [(s - lo) / (hi - lo) if hi > lo else 1.0 for s in scores]


def nearest(
    store: Store,
    vector: np.ndarray,
    encoder_name: str,
    *,
    filters: Filters = NO_FILTERS,
    limit: int = 10,
    exclude: frozenset[int] = frozenset(),
) -> list[tuple[int, float]]:
    """(document id, cosine similarity) of the stored embeddings closest to ``vector``."""
    ids, matrix = store.embeddings.matrix(encoder_name)
    if not ids:
        return []
    keep = store.fulltext.filtered_ids(filters)
    rows = np.array([k for k, i in enumerate(ids) if (keep is None or i in keep) and i not in exclude], dtype=int)
    if not len(rows):
        return []
    v = np.asarray(vector, dtype=np.float32)
    sims = matrix[rows] @ (v / max(float(np.linalg.norm(v)), 1e-12))
    top = np.argsort(-sims, kind="stable")[:limit]
    return [(int(ids[rows[t]]), float(sims[t])) for t in top]


def similar(store: Store, doc_id: int, encoder_name: str, *, filters: Filters = NO_FILTERS,
            limit: int = 10) -> list[Hit]:
    """More like this: the documents whose embeddings are closest to that of ``doc_id``."""
    ids, matrix = store.embeddings.matrix(encoder_name, ids=[doc_id])
    if not ids:
        raise DataError(f"document {doc_id} has no embedding (not processed yet, failed, or another encoder)")
    near = nearest(store, matrix[0], encoder_name, filters=filters, limit=limit, exclude=frozenset({doc_id}))
    hits = [Hit(i, score, "", semantic_rank=k) for k, (i, score) in enumerate(near, 1)]
    _fill_snippets(store, "", hits)
    return hits


def _fill_snippets(store: Store, query: str, hits: list[Hit]) -> None:
    """Hits found by meaning only: the FTS5 snippet where a query word occurs, else the start of
    the text with the query's words marked."""
    missing = [h.id for h in hits if not h.snippet]
    if not missing:
        return
    found = store.fulltext.snippets(query, missing) if query else {}
    leads = store.fulltext.leads([i for i in missing if i not in found], LEAD_CHARS)
    words = {w.lower() for w in re.findall(r"\w+", query) if len(w) > 2}
    for h in hits:
        if h.snippet:
            continue
        if h.id in found:
            h.snippet = found[h.id]
        else:
            h.snippet = mark_words(" ".join(leads.get(h.id, "").split()), words)


def mark_words(text: str, words: set[str]) -> str:
    """``text`` with each of ``words`` (case-insensitive, whole words) in [brackets]."""
    if not words:
        return text
    pattern = re.compile(r"\b(" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b",
                         re.IGNORECASE)
    return pattern.sub(r"[\1]", text)

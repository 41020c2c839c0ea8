"""BIO tags: constrained decoding over a document and the spans it gives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def tag_names(types: Sequence[str]) -> list[str]:
    return ["O", *[f"{p}-{t}" for t in types for p in ("B", "I")]]


def allowed_transitions(tags: Sequence[str]) -> np.ndarray:
    """(from, to) → allowed: I-X only after B-X or I-X."""
    n = len(tags)
    ok = np.ones((n, n), dtype=bool)
    for j, to in enumerate(tags):
        if to.startswith("I-"):
            for i, fr in enumerate(tags):
                ok[i, j] = fr[2:] == to[2:] and fr != "O"
    return ok


def viterbi(log_probs: np.ndarray, allowed: np.ndarray, tags: Sequence[str]) -> np.ndarray:
    """The best tag sequence that is valid BIO (no I-X without a B-X before it)."""
    T, n = log_probs.shape
    if T == 0:
        return np.zeros(0, dtype=np.int64)
    penalty = np.where(allowed, 0.0, -np.inf)
    start_ok = np.array([not t.startswith("I-") for t in tags])
    score = np.where(start_ok, log_probs[0], -np.inf)
    back = np.zeros((T, n), dtype=np.int64)
    for t in range(1, T):
        cand = score[:, None] + penalty  # (from, to)
        back[t] = cand.argmax(0)
        score = cand.max(0) + log_probs[t]
    path = np.zeros(T, dtype=np.int64)
    path[-1] = int(score.argmax())
    for t in range(T - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    type: str
    confidence: float


def spans_from_path(
    path: np.ndarray, probs: np.ndarray, offsets: Sequence[tuple[int, int]], tags: Sequence[str]
) -> list[Span]:
    """Character spans of the entities in a decoded path; confidence is the mean probability
    of the entity's tags."""
    spans: list[Span] = []
    current: tuple[int, int, str, list[float]] | None = None

    def close() -> None:
        if current is not None:
            s, e, typ, ps = current
            spans.append(Span(s, e, typ, float(np.mean(ps))))

    for i, k in enumerate(path):
        tag = tags[k]
        a, b = offsets[i]
        p = float(probs[i, k])
        if tag.startswith("B-") or (tag.startswith("I-") and (current is None or current[2] != tag[2:])):
            close()
            current = (a, b, tag[2:], [p])
        elif tag.startswith("I-") and current is not None:
            current = (current[0], b, current[2], [*current[3], p])
        else:
            close()
            current = None
    close()
    return spans

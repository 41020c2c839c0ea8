"""Word-shape features: what an uncased encoder cannot see.

The bundled encoder lower-cases its input, so "Apple" and "apple", "US" and "us" look the
same to it. Each token gets one id from its own shape, the shape of the word it is part of
and whether it starts that word. The bundled multi-task encoder reads these ids as its token
types (models/multitask.py), and the tagger learns an embedding of them beside its states.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

N_SHAPES = 8
VOCAB = 1 + N_SHAPES * N_SHAPES * 2  # id 0: special tokens
_WORD = re.compile(r"\w+")


@lru_cache(maxsize=65536)  # the same words come back all the time
def shape(s: str) -> int:
    """0 empty, 1 punctuation, 2 has a digit, 3 UPPER, 4 single capital, 5 Title, 6 lower, 7 mIxed."""
    if not s:
        return 0
    if not any(c.isalnum() for c in s):
        return 1
    if any(c.isdigit() for c in s):
        return 2
    if s.isupper():
        return 3 if len(s) > 1 else 4
    if s[0].isupper():
        return 5
    if s.islower():
        return 6
    return 7


def shape_ids(text: str, offsets: Sequence[tuple[int, int]]) -> np.ndarray:
    """One shape id per token (offsets into ``text``; (0, 0) for special tokens)."""
    words, starts = _words(text)
    out = np.zeros(len(offsets), dtype=np.int64)
    for i, (a, b) in enumerate(offsets):
        if a == b:
            continue
        k = bisect.bisect_right(starts, a) - 1
        if k >= 0 and words[k][0] <= a < words[k][1]:
            ws, we = words[k]
        else:
            ws, we = a, b
        out[i] = 1 + (shape(text[a:b]) * N_SHAPES + shape(text[ws:we])) * 2 + int(a == ws)
    return out


@lru_cache(maxsize=16)  # a long document's windows each ask for the same text's words
def _words(text: str) -> tuple[list[tuple[int, int]], list[int]]:
    words = [m.span() for m in _WORD.finditer(text)]
    return words, [w[0] for w in words]

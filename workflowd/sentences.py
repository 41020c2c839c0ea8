"""Sentence splitting with character offsets, for summaries and sentence-level scores.

Rules, in order:
- a blank line always ends a sentence (a title line, a paragraph, a list item);
- ``.``, ``!``, ``?`` or ``…`` (with closing quotes or brackets after it) ends a sentence when
  what follows starts one: a space or a line break and then an upper-case letter, a digit
  or an opening quote;
- a full stop glued to the next sentence without a space ("stabilise.China's", as in the
  BBC summaries) ends a sentence when it follows a lower-case word of two letters or more
  and is followed by an upper-case letter or a quote and a letter: "U.S.", "e.g." and
  "www.Example.com" stay whole;
- not after a known abbreviation (Mr., Dr., e.g., Inc., Jan., No. ...), a single initial
  ("J. Smith"), or inside a number ("$1.2871", "3.5%").

A quote right after the full stop belongs to the sentence that ends when a space follows it
(``he said."  Then``) and to the next sentence when a letter follows it (``months."I think``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st jr sr sen rep gov gen col lt sgt capt rev hon mt ft
    vs etc eg ie cf al approx dept est fig inc ltd co corp plc llc no nos vol pp op ed eds
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur fri sat sun
    a.m p.m u.s u.k e.g i.e n.b""".split()
)
_CLOSERS = "\"'”’)]»"
_OPENERS = "\"'“‘([«"
_END = re.compile(r"[.!?…]+[\"'”’)\]»]*")


@dataclass(frozen=True)
class Sentence:
    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of ``text`` with their character offsets (``text[start:end] == sentence.text``)."""
    out = []
    for start, end in _spans(text):
        # trim whitespace, keeping the offsets true
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            out.append(Sentence(start, end, text[start:end]))
    return out


def _spans(text: str) -> Iterator[tuple[int, int]]:
    for para in re.finditer(r"(?:(?!\n[ \t]*\n)[\s\S])+", text):
        start = para.start()
        for cut in _cuts(para.group(0)):
            yield start, para.start() + cut
            start = para.start() + cut
        yield start, para.end()


def _cuts(par: str) -> Iterator[int]:
    last = 0
    for m in _END.finditer(par):
        cut = _cut_at(par, m, last)
        if cut is not None:
            yield cut
            last = cut


def _cut_at(par: str, m: re.Match[str], last: int) -> int | None:
    """Where the sentence ends if the punctuation ``m`` ends one, else None."""
    end = m.end()
    after = par[end : end + 2]
    if not after:
        return None
    mark = m.group(0)
    if after[0].isspace():
        nxt = par[end:].lstrip()[:1]
        if (
            nxt
            and (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS)
            and not _abbreviation(par, m.start(), mark)
        ):
            return end
        return None
    # Glued to what follows: only after a lower-case word ("stabilise.China's"), a number, or
    # an acronym before a capitalised word ("the US.Meanwhile").
    if not (_lower_word_before(par, m.start()) or _acronym_before(par, m.start(), after)):
        return None
    if re.match(r"[\w-]+\.[a-z]{2,}(?:[/\s.,;:)]|$)", par[m.start() + 1 :]):
        return None  # a host name: "www.Example.com"
    punct = len(mark) - len(mark.lstrip(".!?…"))
    closing = mark[punct:]
    if closing:
        if not after[0].isupper():
            return None
        # 'months."I think': a quote opens the next sentence unless one is open here.
        open_quotes = sum(par[last : m.start()].count(q) for q in '"“”') % 2
        cut = m.start() + punct
        for ch in closing:
            if ch in '"“”':
                if not open_quotes:
                    break
                open_quotes = 0
            cut += 1
        return cut
    if after[0].isupper() or (after[0] in _OPENERS and len(after) > 1 and after[1].isupper()):
        return end
    return None


def _lower_word_before(par: str, dot: int) -> bool:
    """Whether a lower-case word of two or more letters ends right before ``dot``."""
    m = re.search(r"([A-Za-z]+)$", par[max(0, dot - 40) : dot])
    if not m or re.search(r"\d[a-z]{0,3}$", par[max(0, dot - 4) : dot]):
        # "47.3%.To", "2004.In", "294.3m.The", "'BBB-'.S&P", "(SUV).Mitsubishi"
        return bool(re.search(r"(?:\d[a-z]{0,3}|%|\S[\"'”’)\]])$", par[max(0, dot - 4) : dot]))
    word = m.group(1)
    before = par[dot - len(word) - 1] if dot - len(word) - 1 >= 0 else " "
    return len(word) >= 2 and word[-1].islower() and word.lower() not in ABBREVIATIONS and before != "."


def _acronym_before(par: str, dot: int, after: str) -> bool:
    m = re.search(r"(?<![.\w])([A-Z][A-Z&]+)$", par[max(0, dot - 20) : dot])
    return bool(m) and len(after) == 2 and after[0].isupper() and (after[1].islower() or after[1] in '"“')


def _abbreviation(par: str, dot: int, mark: str) -> bool:
    """Whether the full stop at ``dot`` ends an abbreviation or an initial rather than a sentence."""
    if mark != ".":
        return False
    m = re.search(r"(\S+)$", par[max(0, dot - 40) : dot])
    if not m:
        return False
    token = m.group(1).lstrip(_OPENERS)
    word = token.lower().rstrip(".")
    if word in ABBREVIATIONS:
        return True
    if len(token) == 1 and token.isupper():  # an initial: "J. Smith"
        return True
    return bool(re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", token))  # "U.S", "e.g" before the last dot


def span_sums(
    sentences: Sequence[Sentence], chunks: Sequence[Any], states: Sequence[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Per sentence, the sum of its tokens' states over a document's windows (``states``: one
    (tokens, features) array per window; a token in two overlapping windows counts twice) and
    how many were summed (0: the sentence lies beyond the windows read)."""
    width = states[0].shape[1] if len(states) else 0
    sums = np.zeros((len(sentences), width), dtype=np.float32)
    counts = np.zeros(len(sentences), dtype=np.float32)
    starts = np.array([s.start for s in sentences])
    for chunk, window in zip(chunks, states, strict=True):
        offs = np.array(chunk.offsets)
        real = offs[:, 1] > offs[:, 0]
        # the sentence each token starts in
        which = np.searchsorted(starts, offs[:, 0], side="right") - 1
        for i in np.unique(which[real]):
            if i < 0:
                continue
            mask = real & (which == i) & (offs[:, 0] < sentences[i].end)
            if mask.any():
                sums[i] += window[mask].sum(0)
                counts[i] += mask.sum()
    return sums, counts

"""Extractive summaries: sentence embeddings from the document's own encoder pass, and ways to
score sentences (lexical TextRank, a learned salience head).

A sentence's embedding is the mean of the token states that fall inside it, taken from the
same windows that give the document its embedding: no extra encoder pass. Where windows
overlap, a token's states from both are averaged.

The salience head is a logistic regression over each sentence's embedding, its similarity
to the document and to the other sentences, its lexical centrality (TextRank: PageRank over
word overlap, as Mihalcea and Tarau 2004), its length and its position. Measured on BBC News
(benchmarks/summarize_bbc.py) it beats lead-N, LexRank and TextRank; TextRank alone comes
close, and is what the step uses when asked for ``method = "textrank"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .sentences import Sentence, span_sums, split_sentences

if TYPE_CHECKING:
    from .models.encoder import Encoded


def pooled_sentence_embeddings(encoded: Encoded, sentences: Sequence[Sentence]) -> np.ndarray:
    """(n_sentences, dim) L2-normalised embeddings pooled from ``encoded.token_states``."""
    if encoded.token_states is None:
        raise ValueError("the document was encoded without token states")
    sums, counts = span_sums(sentences, encoded.chunks, encoded.token_states)
    if not len(encoded.token_states):
        sums = np.zeros((len(sentences), encoded.embedding.shape[0]), dtype=np.float32)
    missing = counts == 0
    counts[missing] = 1
    emb = sums / counts[:, None]
    emb[missing] = encoded.embedding  # a sentence beyond the windows read: the document's own
    return emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)


def position_features(n: int) -> np.ndarray:
    """(n, 4): relative position, first sentence, 1/(1+index), last sentence."""
    idx = np.arange(n, dtype=np.float32)
    return np.stack([idx / max(n - 1, 1), (idx == 0), 1.0 / (1.0 + idx), (idx == n - 1)], axis=1).astype(
        np.float32
    )


FEATURES_VERSION = 1


def sentence_features(sent_emb: np.ndarray, doc_emb: np.ndarray, sentences: Sequence[Sentence]) -> np.ndarray:
    """What the salience head sees of each sentence: its embedding, its similarity to the
    document and to the other sentences, its lexical centrality, its length and position."""
    n = len(sentences)
    centroid = sent_emb @ doc_emb
    sim = sent_emb @ sent_emb.T
    mean_sim = (sim.sum(1) - 1.0) / max(n - 1, 1)
    words = np.array([len(s.text.split()) for s in sentences], dtype=np.float32)
    lex = lexical_centrality([s.text for s in sentences])
    extra = np.stack(
        [
            centroid,
            mean_sim,
            np.log1p(words),
            (words < 6).astype(np.float32),
            lex,
            _rank(lex),
            words / 50,
            _rank(words),
            words / max(words.sum(), 1.0),
        ],
        axis=1,
    )
    return np.concatenate([sent_emb, extra, position_features(n)], axis=1).astype(np.float32)


def _rank(x: np.ndarray) -> np.ndarray:
    return (np.argsort(np.argsort(x, kind="stable"), kind="stable") / max(len(x) - 1, 1)).astype(np.float32)


_WORD = re.compile(r"\w+(?:'\w+)?")


def _content_words(text: str) -> set[str]:
    from ._stopwords import STOP_WORDS, stem

    return {stem(w) for w in (m.lower() for m in _WORD.findall(text)) if w not in STOP_WORDS}


def lexical_centrality(sentences: Sequence[str], damping: float = 0.85, iterations: int = 50) -> np.ndarray:
    """TextRank scores (mean 1): PageRank over the graph whose edges are shared content words,
    normalised by the sentences' log lengths."""
    words = [_content_words(s) for s in sentences]
    n = len(words)
    if n == 0:
        return np.zeros(0, dtype=np.float32)
    vocab = {w: i for i, w in enumerate(sorted(set().union(*words)))}
    bag = np.zeros((n, max(len(vocab), 1)), dtype=np.float32)
    for i, ws in enumerate(words):
        bag[i, [vocab[w] for w in ws]] = 1.0
    sizes = bag.sum(1)
    logs = np.where(sizes > 1, np.log(np.maximum(sizes, 1.0)), 0.0)
    denom = logs[:, None] + logs[None, :]
    linked = (logs[:, None] > 0) & (logs[None, :] > 0)
    sim = np.where(linked, (bag @ bag.T) / np.where(denom > 0, denom, 1.0), 0.0).astype(np.float64)
    np.fill_diagonal(sim, 0.0)
    out = sim.sum(1, keepdims=True)
    trans = np.where(out > 0, sim / np.maximum(out, 1e-12), 1.0 / n)
    rank = np.full(n, 1.0 / n)
    for _ in range(iterations):
        rank = (1 - damping) / n + damping * (trans.T @ rank)
    return (rank * n).astype(np.float32)


@dataclass
class SalienceHead:
    """Logistic regression over sentence_features: the probability a sentence is in the summary."""

    weight: np.ndarray
    bias: float
    meta: dict[str, Any] = field(default_factory=dict)

    def score(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(features @ self.weight + self.bias)))

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "summarize-head"))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / "head.npz", weight=self.weight.astype(np.float32), bias=np.float32(self.bias))
        (folder / "meta.json").write_text(
            json.dumps({**self.meta, "features_version": FEATURES_VERSION}, indent=1, sort_keys=True)
        )

    @classmethod
    def load(cls, folder: Path, version: str | None = None) -> SalienceHead:
        from .errors import ModelError

        try:
            with np.load(folder / "head.npz") as z:
                weight, bias = z["weight"], float(z["bias"])
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"cannot load the summarize model in {folder}: {exc}") from None
        if meta.get("features_version") != FEATURES_VERSION:
            raise ModelError(f"the summarize model in {folder} was trained on other features; train it again")
        if version:
            meta["version"] = version
        return cls(weight, bias, meta)


MAX_SENTENCES = 500  # candidates per document: bounded time on a 2-million-character file


def candidate_sentences(text: str, sentences: Sequence[Sentence] | None = None) -> list[Sentence]:
    """The sentences a summary is chosen from: the first MAX_SENTENCES of the text (or of
    ``sentences``, those a person wrote: workflowd.readable)."""
    return list(split_sentences(text) if sentences is None else sentences)[:MAX_SENTENCES]


def top_in_order(scores: np.ndarray, k: int) -> list[int]:
    """The ``k`` best sentences, in document order."""
    k = max(0, min(k, len(scores)))
    return sorted(np.argsort(-scores, kind="stable")[:k].tolist())

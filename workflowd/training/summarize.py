"""Training and measuring the summarize step's salience head from ``{"text", "summary"}`` JSONL."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..sentences import Sentence, split_sentences
from ..summary import (
    SalienceHead,
    candidate_sentences,
    lexical_centrality,
    pooled_sentence_embeddings,
    sentence_features,
    top_in_order,
)
from ..datafiles import read_jsonl
from ..errors import DataError

if TYPE_CHECKING:
    from ..models.encoder import Encoder


@dataclass
class SummaryExamples:
    texts: list[str]
    summaries: list[str]
    sha256: str

    def __len__(self) -> int:
        return len(self.texts)


def load_summaries_jsonl(path: Path) -> SummaryExamples:
    """``{"text", "summary"}`` per line: the document and its extractive reference summary."""
    rows, sha256 = read_jsonl(path)
    for number, row in rows:
        if not isinstance(row.get("summary"), str):
            raise DataError(f'{path}, line {number}: expected an object with "text" and "summary" strings')
    return SummaryExamples([r["text"] for _, r in rows], [r["summary"] for _, r in rows], sha256)


@dataclass
class Prepared:
    sentences: list[Sentence]
    features: np.ndarray
    labels: np.ndarray  # 1 where the sentence is one of the reference summary's
    k: int  # sentences in the reference summary


def prepare(encoder: Encoder, data: SummaryExamples) -> list[Prepared]:
    """Split, encode (one pass per window, token states kept) and featurise every document."""
    out = []
    for start in range(0, len(data), 64):  # bounded memory: token states of 64 documents at a time
        texts = data.texts[start : start + 64]
        for text, summary, enc in zip(
            texts,
            data.summaries[start : start + 64],
            encoder.encode_documents(texts, tokens=True),
            strict=True,
        ):
            sents = candidate_sentences(text)
            ref = {s.text for s in split_sentences(summary)}
            if not sents:
                out.append(Prepared([], np.zeros((0, 0), np.float32), np.zeros(0, np.float32), 0))
                continue
            feats = sentence_features(pooled_sentence_embeddings(enc, sents), enc.embedding, sents)
            labels = np.array([s.text in ref for s in sents], dtype=np.float32)
            out.append(Prepared(sents, feats, labels, max(1, len(split_sentences(summary)))))
    return out


def fit_head(docs: Sequence[Prepared], c: float = 1.0) -> SalienceHead:
    from sklearn.linear_model import LogisticRegression

    docs = [d for d in docs if len(d.sentences)]
    X = np.concatenate([d.features for d in docs])
    y = np.concatenate([d.labels for d in docs])
    if len(set(y.tolist())) < 2:
        raise DataError(
            "the summaries share no sentence with their texts: nothing to learn from "
            "(summaries must be made of the text's own sentences)"
        )
    model = LogisticRegression(C=c, max_iter=3000).fit(X, y)
    return SalienceHead(model.coef_[0].astype(np.float32), float(model.intercept_[0]))


def rouge(picked: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 (rouge-score, Porter stemming) of picked summaries against references."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    scores = [scorer.score(ref, pick) for pick, ref in zip(picked, references, strict=True)]
    if not scores:
        return {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    return {k: float(np.mean([s[k].fmeasure for s in scores])) for k in ("rouge1", "rouge2", "rougeL")}


def pick(doc: Prepared, head: SalienceHead | None, k: int | None = None) -> list[int]:
    """The chosen sentences (document order): by the head, or by TextRank without one."""
    if not doc.sentences:
        return []
    scores = (
        head.score(doc.features) if head is not None else lexical_centrality([s.text for s in doc.sentences])
    )
    return top_in_order(scores, k or doc.k)


@dataclass
class SummarizeOutcome:
    head: SalienceHead
    metrics: dict[str, Any]
    meta: dict[str, Any]


def train_summarizer(
    encoder: Encoder, data: SummaryExamples, *, val_share: float = 0.1, seed: int = 0, c: float = 1.0
) -> SummarizeOutcome:
    """Fit the salience head; ROUGE on held-out documents (against TextRank on the same), then
    the head is fitted again on everything."""
    t0 = time.perf_counter()
    docs = prepare(encoder, data)
    order = np.random.default_rng(seed).permutation(len(docs))
    n_val = int(round(val_share * len(docs))) if len(docs) >= 20 else 0
    val, train = sorted(order[:n_val].tolist()), sorted(order[n_val:].tolist())
    metrics: dict[str, Any] = {"validation": "none"}
    if val:
        head = fit_head([docs[i] for i in train], c)
        refs = [data.summaries[i] for i in val]
        texts = {
            name: [" ".join(docs[i].sentences[j].text for j in pick(docs[i], h)) for i in val]
            for name, h in (("head", head), ("textrank", None))
        }
        metrics = {
            "validation": "held out",
            "n": len(val),
            **rouge(texts["head"], refs),
            "textrank": rouge(texts["textrank"], refs),
        }
    head = fit_head(docs, c)
    n_sent = sum(len(d.sentences) for d in docs)
    meta = {
        "task": "summarize",
        "method": "salience head (logistic regression)",
        "data": {"n": len(data), "n_val": len(val), "sentences": n_sent, "sha256": data.sha256},
        "hyperparameters": {"C": c, "val_share": val_share, "seed": seed},
        "train_seconds": round(time.perf_counter() - t0, 1),
    }
    head.meta = {**meta, "metrics": metrics}
    return SummarizeOutcome(head, metrics, meta)

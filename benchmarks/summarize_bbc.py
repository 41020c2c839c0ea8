"""Extractive summaries on BBC News: workflowd's sentence scorers beside lead-N, LexRank and TextRank.

    python benchmarks/summarize_bbc.py

Data: ../shared/data/bbc_news_summary/train.jsonl, split by benchmarks/bbc.py; the first 400
articles of the evaluation part are summarised (the salience head learns from the training
part only). Every method picks as many sentences as the reference summary has, from the same
sentences (workflowd.sentences), kept in document order; ROUGE-1/2/L F1 by rouge-score with
stemming. Results go to benchmarks/results/summarize_bbc.json.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bbc  # noqa: E402

from workflowd.config import ModelSettings  # noqa: E402
from workflowd.models.encoder import Encoder  # noqa: E402
from workflowd.summary import top_in_order  # noqa: E402
from workflowd.training.summarize import SummaryExamples, fit_head, pick, prepare  # noqa: E402

N_EVAL = 400


class _Words:
    """A sumy tokenizer over our own sentences: words by a regular expression (no NLTK data)."""

    language = "english"

    def to_words(self, text: str) -> list[str]:
        return re.findall(r"\w+(?:'\w+)?", text)


def sumy_pick(method: str, sentences: list[str], k: int) -> list[int]:
    from sumy.models.dom import ObjectDocumentModel, Paragraph, Sentence
    from sumy.nlp.stemmers import Stemmer
    from sumy.summarizers.lex_rank import LexRankSummarizer
    from sumy.summarizers.text_rank import TextRankSummarizer
    from sumy.utils import get_stop_words

    words = _Words()
    objs = [Sentence(s, words) for s in sentences]
    doc = ObjectDocumentModel([Paragraph(objs)])
    summarizer = (TextRankSummarizer if method == "textrank" else LexRankSummarizer)(Stemmer("english"))
    summarizer.stop_words = get_stop_words("english")
    chosen = {id(s) for s in summarizer(doc, k)}
    return [i for i, s in enumerate(objs) if id(s) in chosen]


def rouge(picks: list[str], reference: str, scorer) -> dict[str, float]:  # noqa: ANN001
    scores = scorer.score(reference, " ".join(picks))
    return {k: scores[k].fmeasure for k in ("rouge1", "rouge2", "rougeL")}


def main() -> None:
    from rouge_score import rouge_scorer

    rows = bbc.load()
    train, evaluation = bbc.split(rows)
    evaluation = evaluation[:N_EVAL]
    encoder = Encoder(ModelSettings())
    as_data = lambda part: SummaryExamples([r["text"] for r in part], [r["summary"] for r in part], "")  # noqa: E731
    t0 = time.perf_counter()
    ev = prepare(encoder, as_data(evaluation))
    enc_s = time.perf_counter() - t0
    print(
        f"encoding {len(ev)} articles (one pass per window, token states kept) and featurising: {enc_s:.1f} s, "
        f"{len(ev) / enc_s:.2f} docs/s"
    )
    t0 = time.perf_counter()
    standalone = [encoder.encode_texts([s.text for s in d.sentences]) for d in ev]
    sa_s = time.perf_counter() - t0
    n_sent = sum(len(d.sentences) for d in ev)
    print(
        f"a second pass, sentence by sentence: {sa_s:.1f} s for {n_sent} sentences ({len(ev) / sa_s:.2f} docs/s)"
    )
    t0 = time.perf_counter()
    head = fit_head(prepare(encoder, as_data(train)))
    print(
        f"salience head trained on the {len(train)} training articles in {time.perf_counter() - t0:.1f} s "
        "(encoding included)"
    )
    dim = encoder.dim
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    methods = {
        "lead-N": lambda d, i: list(range(min(d.k, len(d.sentences)))),
        "LexRank (sumy)": lambda d, i: sumy_pick("lexrank", [s.text for s in d.sentences], d.k),
        "TextRank (sumy)": lambda d, i: sumy_pick("textrank", [s.text for s in d.sentences], d.k),
        "workflowd centroid (pooled, 1 pass)": lambda d, i: top_in_order(d.features[:, dim], d.k),
        "workflowd centroid (2nd pass per sentence)": lambda d, i: top_in_order(
            standalone[i] @ (d.features[:, :dim].mean(0)), d.k
        ),
        "workflowd TextRank (method textrank)": lambda d, i: pick(d, None),
        "workflowd salience head (method head)": lambda d, i: pick(d, head),
    }
    results = {}
    for name, choose in methods.items():
        t0 = time.perf_counter()
        scores = [
            rouge([d.sentences[j].text for j in choose(d, i)], evaluation[i]["summary"], scorer)
            for i, d in enumerate(ev)
        ]
        mean = {k: round(float(np.mean([s[k] for s in scores])), 4) for k in scores[0]}
        results[name] = {**mean, "seconds": round(time.perf_counter() - t0, 1)}
        print(
            f"{name:44s} ROUGE-1 {mean['rouge1']:.4f}  ROUGE-2 {mean['rouge2']:.4f}  ROUGE-L {mean['rougeL']:.4f}"
        )
    out = Path(__file__).resolve().parent / "results" / "summarize_bbc.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {"n": len(ev), "encoding_s": round(enc_s, 1), "standalone_s": round(sa_s, 1), "methods": results},
            indent=1,
        )
    )


if __name__ == "__main__":
    main()

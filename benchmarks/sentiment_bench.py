"""Sentiment on held-out rows: workflowd beside VADER and TextBlob.

    python benchmarks/sentiment_data.py /tmp/sent          # the fixed splits
    python benchmarks/sentiment_bench.py /tmp/sent [--save DIR | --load DIR] [--epochs 1]

Trains on sst2_train.jsonl and fpb_train.jsonl exactly as
``workflowd train --task sentiment --data sst2_train.jsonl --data fpb_train.jsonl`` does
(or loads a saved model), then reports accuracy and macro-F1 on sst2_heldout.jsonl (binary:
negative or positive), fpb_heldout.jsonl and fpb_allagree_heldout.jsonl (three classes).
VADER: compound >= 0.05 positive, <= -0.05 negative, else neutral; TextBlob: polarity > 0
positive, < 0 negative, else neutral; on binary data both call anything not negative positive.
VADER and TextBlob are not workflowd dependencies: pip install vaderSentiment textblob.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
SETS = ("sst2_heldout", "fpb_heldout", "fpb_allagree_heldout")


def lexicon_predictions(texts: list[str], binary: bool) -> dict[str, list[str]]:
    from textblob import TextBlob
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()

    def three(x: float, eps: float) -> str:
        if binary:
            return "negative" if x < (-eps if eps else 0) else "positive"
        return "positive" if x >= eps and x > 0 else "negative" if x <= -eps and x < 0 else "neutral"

    return {
        "VADER": [three(vader.polarity_scores(t)["compound"], 0.05) for t in texts],
        "TextBlob": [three(TextBlob(t).sentiment.polarity, 0.0) for t in texts],
    }


def main() -> int:
    from workflowd.config import ModelSettings
    from workflowd.models.encoder import Encoder
    from workflowd.sentiment import load_sentiment_file
    from workflowd.sentiment.model import load_sentiment
    from workflowd.training.metrics import classification_metrics
    from workflowd.training.sentiment import SentimentParams, predict_labels, train_sentiment

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("splits", type=Path)
    ap.add_argument("--save", type=Path)
    ap.add_argument("--load", type=Path)
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args()
    encoder = Encoder(ModelSettings())
    if args.load:
        model = load_sentiment(args.load, encoder, version="loaded")
    else:
        sources = [load_sentiment_file(args.splits / f) for f in ("sst2_train.jsonl", "fpb_train.jsonl")]

        def report(r) -> None:  # noqa: ANN001
            print(
                f"epoch {r.epoch}/{r.epochs}  loss {r.train_loss:.4f}  validation mean accuracy "
                f"{r.val_macro_f1:.4f}  {r.seconds:.0f} s",
                flush=True,
            )

        out = train_sentiment(encoder, sources, SentimentParams(epochs=args.epochs), report)
        print(json.dumps(out.history, indent=1))
        print(f"training {out.meta['train_seconds']:.0f} s, best epoch {out.meta['best_epoch']}")
        model = out.model
        if args.save:
            model.save(
                args.save, out.adapter_model, {**out.meta, "metrics": out.metrics, "history": out.history}
            )
    print("| data | n | method | accuracy | macro-F1 |\n|---|---|---|---|---|")
    for name in SETS:
        data = load_sentiment_file(args.splits / f"{name}.jsonl")
        t0 = time.perf_counter()
        preds = {"workflowd": predict_labels(model, data)}
        secs = time.perf_counter() - t0
        preds.update(lexicon_predictions(data.texts, data.binary))
        for method, p in preds.items():
            m = classification_metrics(data.labels, p)
            print(
                f"| {name} | {len(data)} | {method} | {m['accuracy']:.4f} | {m['macro_f1']:.4f} |", flush=True
            )
        print(f"<!-- workflowd: {len(data) / secs:.1f} sentences/s -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())

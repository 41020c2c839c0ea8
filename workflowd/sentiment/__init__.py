"""Sentiment: a score in [-1, 1] and negative / neutral / positive, per sentence and per document."""

from .data import LABELS, SentimentData, load_sentiment_file, normalise_label

__all__ = ["LABELS", "SentimentData", "load_sentiment_file", "normalise_label"]

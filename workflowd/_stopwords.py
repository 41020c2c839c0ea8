"""English stop words (scikit-learn's list) and the Snowball stemmer (NLTK), for word overlap."""

from __future__ import annotations

from functools import lru_cache

from nltk.stem.snowball import SnowballStemmer
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

STOP_WORDS = frozenset(ENGLISH_STOP_WORDS)
_STEMMER = SnowballStemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _STEMMER.stem(word)

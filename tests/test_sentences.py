"""The sentence splitter: offsets, abbreviations, decimals, quotes, and the BBC summaries' glued sentences."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared_data
from workflowd.sentences import split_sentences


def _texts(text: str) -> list[str]:
    out = split_sentences(text)
    for s in out:
        assert text[s.start : s.end] == s.text
    return [s.text for s in out]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Mr. Smith paid $1.2871 each. Dr. Jones did not.",
            ["Mr. Smith paid $1.2871 each.", "Dr. Jones did not."],
        ),
        (
            "Growth was 3.5% in the U.S. last year. It slowed.",
            ["Growth was 3.5% in the U.S. last year.", "It slowed."],
        ),
        ("See e.g. the appendix. J. R. Smith agreed.", ["See e.g. the appendix.", "J. R. Smith agreed."]),
        ('He said: "It is over." Then he left.', ['He said: "It is over."', "Then he left."]),
        ("Really? Yes! 2004 was a good year.", ["Really?", "Yes!", "2004 was a good year."]),
        (
            "set to stabilise.China's currency is pegged.",
            ["set to stabilise.", "China's currency is pegged."],
        ),
        ('in recent months."I think so," said Bob.', ["in recent months.", '"I think so," said Bob.']),
        ('he said "no"."Later" came.', ['he said "no".', '"Later" came.']),
        ("rose by 47.3%.To help, prices rose.", ["rose by 47.3%.", "To help, prices rose."]),
        ("growth in the US.Meanwhile rates fell.", ["growth in the US.", "Meanwhile rates fell."]),
        ("Visit www.Example.com today. Or not.", ["Visit www.Example.com today.", "Or not."]),
        (
            "Title line\n\nFirst sentence. second part stays.",
            ["Title line", "First sentence. second part stays."],
        ),
    ],
)
def test_splits(text: str, expected: list[str]) -> None:
    assert _texts(text) == expected


def test_empty_and_whitespace() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\n \t") == []


def test_bbc_summary_sentences_are_article_sentences() -> None:
    """The summaries are article sentences glued together without spaces: split both, and
    each summary sentence should be one of the article's sentences."""
    path = shared_data("bbc_news_summary") / "train.jsonl"
    rows = [json.loads(line) for line in path.open(encoding="utf-8")][:400]
    total = exact = 0
    for r in rows:
        article = {s.text for s in split_sentences(r["title"] + "\n\n" + r["text"])}
        for s in split_sentences(r["summary"]):
            total += 1
            exact += s.text in article
    print(f"{exact}/{total} summary sentences are article sentences")
    assert exact / total > 0.92

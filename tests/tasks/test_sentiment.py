"""The sentiment step with the shipped model on the real encoder."""

from __future__ import annotations

from workflowd.pipeline import Document, StepContext
from workflowd.tasks.sentiment import Sentiment, SentimentSettings


def _run(context: StepContext, text: str, **settings) -> dict:  # noqa: ANN003
    result = Sentiment(SentimentSettings(**settings), context).run(Document(id=1, text=text))
    assert result.model_version == "shipped"
    return result.data


def test_sentences_of_each_kind(context: StepContext) -> None:
    step = Sentiment(SentimentSettings(), context)
    texts = [
        "This is the worst service I have ever had; I want my money back.",
        "Thank you so much, the repair was quick and the staff were wonderful.",
        "The meeting has been moved to room 204 on the second floor.",
        "Operating profit fell to EUR 1.2 mn from EUR 3.4 mn a year earlier.",
        "Net sales rose 25 % to EUR 300 mn, beating forecasts.",
    ]
    out = [r.data for r in step.run_batch([Document(id=i, text=t) for i, t in enumerate(texts)])]
    assert [d["label"] for d in out] == ["negative", "positive", "neutral", "negative", "positive"]
    for d in out:
        assert -1.0 <= d["score"] <= 1.0 and 1 / 3 <= d["confidence"] <= 1.0
        p = d["probabilities"]
        assert abs(sum(p.values()) - 1) < 1e-3 and abs(d["score"] - (p["positive"] - p["negative"])) < 1e-3
    assert out[0]["score"] < -0.5 < 0.5 < out[1]["score"]


def test_document_score_from_its_sentences(context: StepContext) -> None:
    text = (
        "Dear Sir,\n\nYour order 4411 was shipped on Monday. It contains two boxes. "
        "The invoice is attached. Frankly, your last delivery was a disaster and arrived broken.\n\n"
        "Regards,\nAnna"
    )
    d = _run(context, text)
    worst = d["most_negative"]
    assert worst["text"] == text[worst["start"] : worst["end"]]
    assert "disaster" in worst["text"] and worst["score"] < 0
    assert d["sentences"] >= 5 and d["score"] > worst["score"]


def test_empty_and_bounded_documents(context: StepContext) -> None:
    d = _run(context, "  ")
    assert d["label"] == "neutral" and d["score"] == 0 and d["sentences"] == 0
    assert d["most_negative"] is None and d["most_positive"] is None
    long = "I love it. " * 1000
    assert _run(context, long, max_sentences=5)["sentences"] == 5


def test_a_mail_is_read_without_its_headers_quotes_and_footer(context: StepContext) -> None:
    from tests.tasks.test_summarize import _mail_document

    doc = _mail_document(context)
    result = Sentiment(SentimentSettings(), context).run(doc)
    body = doc.meta["body_start"]
    quote = doc.text.index("> Is the move")
    for key in ("most_negative", "most_positive"):
        s = result.data[key]
        if s:
            assert body <= s["start"] < quote, (key, s)
    assert result.data["sentences"] <= 5  # the body's own, not the quote, signature or footer

"""The summarize step with the real encoder and the shipped salience head."""

from __future__ import annotations

import json

import pytest

from tests.conftest import shared_data
from workflowd.pipeline import Document, StepContext
from workflowd.sentences import split_sentences
from workflowd.tasks.summarize import SHIPPED, Summarize, SummarizeSettings
from workflowd.summary import SalienceHead


def _doc(context: StepContext, text: str) -> Document:
    doc = Document(id=1, text=text)
    doc.encoded = context.models.encoder.encode_documents([text], tokens=True)[0]
    return doc


def _article() -> str:
    row = json.loads((shared_data("bbc_news_summary") / "train.jsonl").open(encoding="utf-8").readline())
    return f"{row['title']}\n\n{row['text']}"


def test_shipped_head_loads() -> None:
    head = SalienceHead.load(SHIPPED, version="shipped")
    assert head.weight.shape == (384 + 9 + 4,) and head.meta["data"]["n"] == 1334


@pytest.mark.parametrize("method", ["head", "textrank"])
def test_summary_sentences_come_from_the_text_in_order(context: StepContext, method: str) -> None:
    text = _article()
    result = Summarize(SummarizeSettings(sentences=3, method=method), context).run(_doc(context, text))
    picked = result.data["sentences"]
    assert len(picked) == 3
    assert [p["index"] for p in picked] == sorted(p["index"] for p in picked)
    assert result.data["summary"] == " ".join(text[p["start"] : p["end"]] for p in picked)
    assert result.data["of"] == len(split_sentences(text))
    assert result.model_version == ("shipped" if method == "head" else "textrank")


def test_ratio_short_and_empty_documents(context: StepContext) -> None:
    text = _article()
    n = len(split_sentences(text))
    result = Summarize(SummarizeSettings(ratio=0.5, max_sentences=100), context).run(_doc(context, text))
    assert len(result.data["sentences"]) == round(0.5 * n)
    one = Summarize(SummarizeSettings(sentences=3), context).run(_doc(context, "Only one sentence here."))
    assert one.data["summary"] == "Only one sentence here."
    assert Summarize(SummarizeSettings(), context).run(_doc(context, "   ")).data["summary"] == ""


MAIL = b"""\
From: Anna Schmidt <anna@example.org>
To: team@example.org
Subject: Warehouse move on Friday
Date: Mon, 2 Nov 2026 09:00:00 +0100
Message-ID: <m1@example.org>

Hello all,

The warehouse move is confirmed for Friday morning at eight.
Please pack your desks on Thursday and label every box with your name.
The new building has parking for forty cars behind the loading bay.

On Sun, 1 Nov 2026, Bob wrote:
> Is the move still happening this week? I heard it might be postponed.
> Also, who pays for the boxes?

--
Anna Schmidt, Facilities

_______________________________________________
Team mailing list
Team@lists.example.org
https://lists.example.org/mailman/listinfo/team
"""


def _mail_document(context: StepContext) -> Document:
    from workflowd.config import ExtractSettings
    from workflowd.extract import extract_file

    path = context.settings.data_dir / "move.eml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(MAIL)
    ex = extract_file(path, ExtractSettings(), context.settings.data_dir / "blobs")
    doc = Document(id=1, text=ex.text, media_type=ex.media_type, meta=ex.meta)
    doc.encoded = context.models.encoder.encode_documents([ex.text], tokens=True)[0]
    return doc


def test_a_mail_summary_reads_what_its_sender_wrote(context: StepContext) -> None:
    doc = _mail_document(context)
    result = Summarize(SummarizeSettings(sentences=3), context).run(doc)
    summary = result.data["summary"]
    assert "warehouse move is confirmed" in summary
    for noise in ("Subject:", "From:", "postponed", "mailing list", "listinfo", "Facilities"):
        assert noise not in summary, (noise, summary)
    body = doc.meta["body_start"]
    assert all(p["start"] >= body for p in result.data["sentences"])
    assert result.data["summary"] == " ".join(doc.text[p["start"] : p["end"]] for p in result.data["sentences"])

"""Each condition says whether it held and the value it saw."""

from __future__ import annotations

from typing import Any

import pytest

from workflowd.rules.conditions import evaluate, matched
from workflowd.rules.context import Subject
from workflowd.rules.settings import When


def subject(**results: Any) -> Subject:
    doc = {"id": 7, "name": "Invoice-March.PDF", "path": "/in/Invoice-March.PDF", "source": "imap:me@host",
           "media_type": "application/pdf", "text": "Please pay 120 € to ACME Ltd by Friday.", "parent_id": None,
           "sha256": "0" * 64, "created_at": "2026-03-04T10:00:00.000Z", "title": None}
    rows = {step: {"status": "ok", "data": data, "confidence": data.pop("_confidence", None)}
            for step, data in results.items()}
    return Subject(doc, rows, ("paid",))


CLASSIFY = {"label": "invoice", "best_guess": "invoice", "abstained": False, "scores": {}, "_confidence": 0.82}
ABSTAINED = {"label": None, "best_guess": "receipt", "abstained": True, "scores": {}, "_confidence": 0.41}


@pytest.mark.parametrize(("when", "results", "passed", "detail"), [
    ({"label": "invoice"}, {"classify": CLASSIFY}, True, "label: invoice is one of [invoice]"),
    ({"label": ["receipt", "memo"]}, {"classify": CLASSIFY}, False, "label: invoice is not one of [receipt, memo]"),
    ({"label": "invoice"}, {"classify": ABSTAINED}, False,
     "label: none (classify abstained; best guess receipt), not one of [invoice]"),
    ({"label": "invoice"}, {}, False, "label: classify has no result for this document"),
    ({"labelled": True}, {"classify": CLASSIFY}, True, "labelled: classify gave invoice; wanted a label"),
    ({"labelled": True}, {"classify": ABSTAINED}, False,
     "labelled: classify abstained (best guess receipt, 0.41); wanted a label"),
    ({"labelled": False}, {"classify": ABSTAINED}, True,
     "labelled: classify abstained (best guess receipt, 0.41); wanted no label"),
    ({"min_confidence": 0.8}, {"classify": CLASSIFY}, True, "confidence: 0.82 ≥ 0.8"),
    ({"min_confidence": 0.9}, {"classify": CLASSIFY}, False, "confidence: 0.82 < 0.9"),
    ({"tag": "paid"}, {}, True, "tags: [paid] include one of [paid]"),
    ({"tag": ["urgent"]}, {"classify": {**CLASSIFY, "tags": ["urgent"]}}, True,
     "tags: [urgent, paid] include one of [urgent]"),
    ({"tag": "x"}, {}, False, "tags: [paid] include none of [x]"),
    ({"source": "imap:*"}, {}, True, "source: imap:me@host matches imap:*"),
    ({"source": "folder:*"}, {}, False, "source: imap:me@host matches none of [folder:*]"),
    ({"media_type": "application/*"}, {}, True, "media_type: application/pdf matches application/*"),
    ({"name": "*.pdf"}, {}, True, "name: Invoice-March.PDF matches *.pdf"),
    ({"path": "/out/*"}, {}, False, "path: /in/Invoice-March.PDF matches none of [/out/*]"),
    ({"text": r"pay \d+"}, {}, True, "text: /pay \\d+/ found 'pay 120'"),
    ({"text": "refund"}, {}, False, "text: /refund/ not found"),
    ({"entity": "ORG"}, {"entities": {"entities": [{"type": "ORG", "text": "ACME Ltd"}]}}, True,
     "entity: ORG 'ACME Ltd' is ORG"),
    ({"entity": {"type": "MONEY", "pattern": "€"}}, {"entities": {"entities": [{"type": "ORG", "text": "ACME"}]}},
     False, "entity: no entity of MONEY matching /€/ (found only [ORG])"),
    ({"entity": {"pattern": "^AC"}}, {"entities": {"entities": []}}, False,
     "entity: no entity of any type matching /^AC/ (none found)"),
    ({"sentiment": "negative"}, {"sentiment": {"label": "neutral", "score": 0.05}}, False,
     "sentiment: neutral is not negative"),
    ({"sentiment": ["negative", "neutral"]}, {"sentiment": {"label": "neutral", "score": 0.05}}, True,
     "sentiment: neutral is one of [negative, neutral]"),
    ({"min_sentiment_score": 0.5}, {"sentiment": {"label": "neutral", "score": 0.05}}, False,
     "sentiment score: 0.05 < 0.5"),
    ({"max_sentiment_score": 0.5}, {"sentiment": {"label": "neutral", "score": 0.05}}, True,
     "sentiment score: 0.05 ≤ 0.5"),
    ({"sentiment": "negative"}, {}, False, "sentiment: the sentiment step has no result for this document"),
    ({"is_attachment": False}, {}, True, "is_attachment: not an attachment"),
])
def test_each_condition_explains_itself(when: dict, results: dict, passed: bool, detail: str) -> None:
    (check,) = evaluate(When(**when), subject(**{k: dict(v) for k, v in results.items()}))
    assert (check.passed, check.detail) == (passed, detail)


def test_all_conditions_are_checked_and_all_must_hold() -> None:
    checks = evaluate(When(label="invoice", sentiment="negative", name="*.pdf"),
                      subject(classify=dict(CLASSIFY), sentiment={"label": "positive", "score": 0.7}))
    assert [(c.condition, c.passed) for c in checks] == [("label", True), ("name", True), ("sentiment", False)]
    assert not matched(checks)
    assert matched(evaluate(When(), subject())) and evaluate(When(), subject()) == []


def test_a_failed_step_counts_as_no_result() -> None:
    s = Subject(subject().doc, {"classify": {"status": "failed", "data": None, "error": "boom"}})
    (check,) = evaluate(When(labelled=False), s)
    assert check.passed and "no result" in check.detail

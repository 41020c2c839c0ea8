"""The entities step's pattern types: offsets, values, and settings errors (no model)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from workflowd.entities import PATTERN_TYPES
from workflowd.pipeline.step import Document
from workflowd.tasks.entities import Entities, EntitiesSettings


def _run(text: str, **settings) -> dict:  # noqa: ANN003
    settings.setdefault("types", list(PATTERN_TYPES))  # the learned types are tested with the model
    step = Entities(EntitiesSettings(**settings), context=None)  # type: ignore[arg-type]
    return step.run(
        Document(
            id=1,
            text=text,
            title=None,
            media_type="text/plain",
            source="t",
            path="p",
            name="n",
            parent_id=None,
        )
    ).data


def test_entities_with_offsets_and_values() -> None:
    text = "Invoice of 12 March 2025: EUR 1.234,50 to DE89 3704 0044 0532 0130 00, questions to bill@shop.example."
    data = _run(text)
    assert data["counts"] == {"DATE": 1, "MONEY": 1, "IBAN": 1, "EMAIL": 1}
    for e in data["entities"]:
        assert text[e["start"] : e["end"]] == e["text"]
    assert [e["value"] for e in data["entities"]][:2] == [
        "2025-03-12",
        {"amount": "1234.50", "currency": "EUR"},
    ]


def test_types_and_region_are_settings() -> None:
    assert _run("call (617) 555-1212", phone_region="us")["counts"] == {"PHONE": 1}
    assert _run("call (617) 555-1212")["counts"] == {}
    assert _run("a@b.example on 2024-01-02", types=["DATE"])["counts"] == {"DATE": 1}
    with pytest.raises(ValidationError, match="unknown entity type"):
        EntitiesSettings(types=["DATES"])
    with pytest.raises(ValidationError, match="unknown phone region"):
        EntitiesSettings(phone_region="XX")


def test_show_reads_names_by_type_once_with_whitespace_folded() -> None:
    from workflowd.config import Settings
    from workflowd.models.provider import ModelProvider
    from workflowd.tasks.entities import SHOWN_PER_TYPE, EntitiesTask

    task = EntitiesTask(Settings(), ModelProvider(Settings()))
    ents = [{"type": "ORG", "text": "Acme\n   Corp"}, {"type": "ORG", "text": "Acme Corp"},
            {"type": "DATE", "text": "1 March 2027", "value": "2027-03-01"}]
    ents += [{"type": "PER", "text": f"Person {i}"} for i in range(SHOWN_PER_TYPE + 3)]
    lines = task.describe({"entities": ents})
    assert lines[0] == "ORG: Acme Corp" and lines[1] == "DATE: 2027-03-01"
    assert lines[2].endswith("Person 9 (and 3 more)")
    assert task.describe({"entities": []}) == ["none found"]

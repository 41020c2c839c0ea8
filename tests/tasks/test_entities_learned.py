"""The entities step with the shipped tagger on the real encoder: names, window edges, overlaps."""

from __future__ import annotations

import pytest

from workflowd.config import ModelSettings
from workflowd.models.encoder import Encoder
from workflowd.ner.tagger import load_tagger
from workflowd.pipeline import Document, StepContext
from workflowd.tasks.entities import SHIPPED, Entities, EntitiesSettings


def _found(data: dict, text: str) -> set[tuple[str, str]]:
    return {(e["type"], text[e["start"] : e["end"]]) for e in data["entities"]}


@pytest.fixture(scope="module")
def tagger(encoder):  # noqa: ANN001, ANN201
    return load_tagger(SHIPPED, encoder, version="shipped")


def test_names_people_organisations_places(context: StepContext) -> None:
    text = (
        "Angela Merkel met Emmanuel Macron in Paris on Tuesday. Later, Siemens said it would "
        "open a factory in Texas, according to a statement from the European Commission."
    )
    result = Entities(EntitiesSettings(), context).run(Document(id=1, text=text))
    found = _found(result.data, text)
    assert {
        ("PER", "Angela Merkel"),
        ("PER", "Emmanuel Macron"),
        ("LOC", "Paris"),
        ("ORG", "Siemens"),
        ("LOC", "Texas"),
        ("ORG", "European Commission"),
    } <= found
    assert result.model_version == "shipped"
    for e in result.data["entities"]:
        assert text[e["start"] : e["end"]] == e["text"] and 0.5 <= e["confidence"] <= 1.0


def test_entities_across_window_edges_are_whole(encoder) -> None:  # noqa: ANN001
    # windows of 24 tokens: every few sentences an edge falls inside a name
    small = Encoder(
        ModelSettings(max_tokens=24, chunk_overlap=4), model=encoder.model, tokenizer=encoder.tokenizer
    )
    tagger = load_tagger(SHIPPED, small)
    text = " ".join(f"On day {i} Barack Obama flew to Berlin." for i in range(30))
    spans = tagger.predict([text])[0]
    assert len(small.chunk(text)) > 10
    people = [text[s.start : s.end] for s in spans if s.type == "PER"]
    places = [text[s.start : s.end] for s in spans if s.type == "LOC"]
    assert people == ["Barack Obama"] * 30
    assert places == ["Berlin"] * 30


def test_casing_tells_names_from_words(tagger) -> None:  # noqa: ANN001
    text = "Tim Cook said Apple will buy a factory in Texas."
    spans = tagger.predict([text])
    assert {(s.type, text[s.start : s.end]) for s in spans[0]} == {
        ("PER", "Tim Cook"), ("ORG", "Apple"), ("LOC", "Texas")}
    assert tagger.predict(["the baker picked an apple at the gates."]) == [[]]


def test_pattern_entities_win_overlaps_and_settings_filter(context: StepContext) -> None:
    text = "Write to John Smith at john.smith@example.com or call Acme Corp in London."
    data = Entities(EntitiesSettings(), context).run(Document(id=1, text=text)).data
    email = next(e for e in data["entities"] if e["type"] == "EMAIL")
    assert email["text"] == "john.smith@example.com"
    inside = [e for e in data["entities"] if e["start"] < email["end"] and email["start"] < e["end"]]
    assert inside == [email]
    assert ("PER", "John Smith") in _found(data, text)
    only = Entities(EntitiesSettings(types=["LOC"]), context).run(Document(id=1, text=text)).data
    assert _found(only, text) == {("LOC", "London")}
    none = Entities(EntitiesSettings(min_confidence=1.0), context).run(Document(id=1, text=text)).data
    assert {e["type"] for e in none["entities"]} == {"EMAIL"}


def test_long_and_empty_documents(tagger) -> None:  # noqa: ANN001
    assert tagger.predict(["", "   \n  "]) == [[], []]
    long = "Nothing to see here at all. " * 2000  # about 14,000 tokens: windows bounded
    # nothing the step keeps (entities.min_confidence 0.5): the multi-task tagger leaves a
    # few weak MISC guesses (about 0.3) on the capitalised word of this odd repetition
    assert [s for s in tagger.predict([long])[0] if s.confidence >= 0.5] == []


def test_the_shared_pass_gives_the_tagger_its_own_pass_answers(tagger, encoder) -> None:  # noqa: ANN001
    """The shipped tagger is a head on the multi-task encoder's shared pass: reading the states
    the pipeline's pass kept (every window of every document in one head call) gives the same
    names, offsets and confidences as running the pass for the tagger alone."""
    assert tagger.shared and tagger.forks() == frozenset({encoder.layers})
    texts = ["Anna Smith met Bob Jones in Paris.", "", "Deutsche Bank wrote to Mr Champion in London. " * 60,
             "Nothing here."]
    encoded = encoder.encode_documents(texts, forks=tagger.forks())
    spans = [[(s.start, s.end, s.type, round(s.confidence, 4)) for s in doc] for doc in tagger.predict_encoded(texts, encoded)]
    assert spans == [[(s.start, s.end, s.type, round(s.confidence, 4)) for s in doc] for doc in tagger.predict(texts)]
    assert {(texts[0][a:b], t) for a, b, t, _ in spans[0]} >= {("Anna Smith", "PER"), ("Paris", "LOC")}
    assert spans[1] == [] and len(spans[2]) > 60

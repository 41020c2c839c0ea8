"""The FTS5 index follows the documents: inserts, re-extraction, deletion; filters; odd queries."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workflowd.search import fuse, mark_words, nearest, search, similar
from workflowd.store import Filters, FoundFile, Store
from workflowd.store.search import match_query


def _add(store: Store, n: int, text: str, *, source: str = "inbox", title: str | None = None) -> int:
    doc_id, _ = store.documents.add(
        FoundFile(source=source, path=f"/in/{n}.txt", name=f"{n}.txt", sha256=f"sha{n}", size=len(text)),
        pipeline="default", max_attempts=3,
    )
    store.documents.set_extracted(doc_id, media_type="text/plain", title=title, text=text, meta={})
    return doc_id


def _ids(store: Store, query: str, **kw: object) -> list[int]:
    return [i for i, _score, _snip in store.fulltext.search(query, **kw)]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "wf.db")
    yield s
    s.close()


def test_index_follows_insert_reextraction_and_deletion(store: Store) -> None:
    a = _add(store, 1, "The invoice from Stadtwerke München is due on Friday.")
    b = _add(store, 2, "Minutes of the tennis club meeting.", title="Club minutes")
    assert _ids(store, "invoice") == [a]
    assert _ids(store, "munchen") == [a]  # accents folded
    assert _ids(store, "meetings") == [b]  # stemmed
    assert _ids(store, "club") == [b]

    # re-extraction replaces the text: the old words are gone from the index, the new ones found
    store.documents.set_extracted(a, media_type="text/plain", title=None, text="A reminder about the gas bill.",
                                  meta={})
    assert _ids(store, "invoice") == []
    assert _ids(store, "reminder") == [a]

    store.conn.execute("DELETE FROM locations WHERE document_id = ?", (b,))
    store.conn.execute("DELETE FROM jobs WHERE document_id = ?", (b,))
    store.conn.execute("DELETE FROM documents WHERE id = ?", (b,))
    assert _ids(store, "club") == []
    # the index is consistent with its content table (FTS5's own check raises if not)
    store.conn.execute("INSERT INTO documents_fts (documents_fts) VALUES ('integrity-check')")


def test_title_words_weigh_more_and_snippets_mark_the_words(store: Store) -> None:
    deep = _add(store, 1, "Words about many things. " * 20 + "Later a budget is mentioned once.")
    titled = _add(store, 2, "The text says budget once.", title="Budget")
    hits = store.fulltext.search("budget")
    assert [h[0] for h in hits] == [titled, deep]
    assert all(score > 0 for _i, score, _s in hits)
    assert "[budget]" in hits[1][2].lower()


def test_filters_by_source_date_and_label_with_corrections_winning(store: Store) -> None:
    a = _add(store, 1, "rent payment for March", source="mail")
    b = _add(store, 2, "rent payment for April", source="scans")
    store.results.save(a, "classify", data={"label": "bills"})
    store.results.save(b, "classify", data={"label": "other"})
    assert _ids(store, "rent", filters=Filters(source="scans")) == [b]
    assert set(_ids(store, "rent", filters=Filters(since="2000-01-01"))) == {a, b}
    assert _ids(store, "rent", filters=Filters(since="2999-01-01")) == []
    assert _ids(store, "rent", filters=Filters(label="bills")) == [a]
    store.corrections.add("classify", {"label": "bills"}, document_id=b)
    assert set(_ids(store, "rent", filters=Filters(label="bills"))) == {a, b}


@pytest.mark.parametrize("query", ['"', "AND", "NEAR(", "a*", "-x OR", "title:foo", "))((", "ü ß 中文"])
def test_any_typed_text_is_a_valid_query(store: Store, query: str) -> None:
    _add(store, 1, "title foo and near x")
    store.fulltext.search(query)  # no FTS5 syntax error, whatever is typed
    assert match_query("   ") is None


def test_fusion_puts_documents_found_by_both_halves_first() -> None:
    text = [(1, 9.0, "a"), (2, 8.0, "b"), (3, 7.0, "c")]
    meaning = [(3, 1.0), (4, 0.5), (1, 0.0)]
    hits = fuse(text, meaning)
    # 1: words 1.0, meaning 0.0; 3: words 0.0, meaning 1.0; 2: words 0.5; 4: meaning 0.5
    assert [h.id for h in hits] == [1, 3, 2, 4]
    assert [round(h.score, 3) for h in hits] == [0.5, 0.5, 0.25, 0.25]
    assert hits[0].text_rank == 1 and hits[0].semantic_rank == 3
    assert hits[3].snippet == "" and hits[3].text_rank is None
    strong = fuse([(1, 30.0, ""), (2, 3.0, ""), (3, 2.0, "")], [(2, 0.5), (1, 0.49), (3, 0.48)])
    assert strong[0].id == 1  # a full-text match far ahead of the rest stays first


def test_search_by_meaning_and_similar_on_stored_embeddings(store: Store) -> None:
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(4, 8)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    ids = [_add(store, i, f"document number {i} about things") for i in range(4)]
    for i, v in zip(ids, vecs, strict=True):
        store.embeddings.save(i, "enc", v)
    query = vecs[2] + 0.1 * vecs[1]
    assert nearest(store, query, "enc", limit=2)[0][0] == ids[2]
    assert nearest(store, query, "other-encoder") == []
    hits = search(store, "things", encode=lambda q: query, encoder_name="enc", mode="semantic", limit=2)
    assert hits[0].id == ids[2]
    assert "[things]" in hits[0].snippet
    more = similar(store, ids[0], "enc", limit=3)
    assert ids[0] not in [h.id for h in more] and len(more) == 3
    assert [h.score for h in more] == sorted((h.score for h in more), reverse=True)


def test_mark_words_is_case_insensitive_and_whole_words() -> None:
    assert mark_words("Rent and rental", {"rent"}) == "[Rent] and rental"

"""`workflowd search` and `similar` through the CLI, on documents ingested with the real model."""

from __future__ import annotations

import pytest

from tests.conftest import Env

DOCS = {
    "boiler.txt": "The heating engineer repaired the gas boiler in the cellar on Tuesday; the radiators are warm again.",
    "football.txt": "The striker scored twice in the second half and the home team won the cup final 3-1.",
    "invoice.txt": "Invoice 2291 from Stadtwerke: the electricity bill for October is 84.20 EUR, due on 15 November.",
    "recipe.txt": "Whisk the eggs with sugar, fold in the flour and bake the sponge cake for 25 minutes.",
}


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> Env:
    from tests.conftest import make_env

    env = make_env(tmp_path_factory.mktemp("search"))
    folder = env.root / "docs"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    env.run("ingest", str(folder))
    return env


def _names(rows: list[dict]) -> list[str]:
    return [r["name"] for r in rows]


@pytest.mark.slow
def test_search_json_is_list_json_with_score_and_snippet_best_first(searched: Env) -> None:
    listed = {d["id"]: d for d in searched.json("list")}
    rows = searched.json("search", "electricity", "bill")
    assert rows[0]["name"] == "invoice.txt"
    for r in rows:
        assert {k: v for k, v in r.items() if k not in ("score", "snippet")} == listed[r["id"]]
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)
    assert "[electricity]" in rows[0]["snippet"].lower()


@pytest.mark.slow
def test_modes_words_alone_miss_a_paraphrase_meaning_finds_it(searched: Env) -> None:
    by_meaning = searched.json("search", "who", "fixed", "my", "furnace", "--mode", "semantic", "--limit", "1")
    assert _names(by_meaning) == ["boiler.txt"]
    assert searched.json("search", "who", "fixed", "my", "furnace", "--mode", "text") == []
    hybrid = searched.json("search", "who", "fixed", "my", "furnace", "--limit", "1")
    assert _names(hybrid) == ["boiler.txt"]
    assert searched.json("search", "football", "--source", "nowhere") == []


@pytest.mark.slow
def test_similar_and_errors(searched: Env) -> None:
    ids = {d["name"]: d["id"] for d in searched.json("list")}
    rows = searched.json("similar", str(ids["football.txt"]), "--limit", "3")
    assert ids["football.txt"] not in [r["id"] for r in rows] and len(rows) == 3
    assert searched.run("similar", "999", check=False).returncode != 0
    empty = searched.run("search", " ", check=False)
    assert empty.returncode != 0 and "empty" in empty.stderr
    table = searched.run("search", "cake").stdout
    assert "recipe.txt" in table


def test_search_before_any_document_is_an_empty_list(wf_env: Env) -> None:
    assert wf_env.json("search", "anything", "--mode", "text") == []

"""A batch of queued documents is run in groups of bounded text."""

from __future__ import annotations


def test_documents_are_run_in_groups_of_bounded_text() -> None:
    from workflowd.pipeline import Document
    from workflowd.pipeline.pipeline import _by_budget

    docs = [Document(i, "x" * n) for i, n in enumerate([10, 30, 70, 500, 5, 5])]
    groups = _by_budget(docs, 100)
    assert [[d.id for d in g] for g in groups] == [[0, 1], [2], [3], [4, 5]]
    assert _by_budget([], 100) == []

from pathlib import PurePosixPath as P

import pytest

from workflowd.sources.filters import is_ignored_name, wanted


@pytest.mark.parametrize(
    "name",
    [".hidden", "~$report.docx", "movie.mkv.part", "x.crdownload", "a.partial", "b.download", "c.tmp", "d.swp", "e~"],
)
def test_temporary_and_private_names_are_ignored(name: str) -> None:
    assert is_ignored_name(name)


@pytest.mark.parametrize("name", ["report.pdf", "notes.md", "mail.eml", "part.txt", "tilde~name.txt"])
def test_ordinary_names_are_taken(name: str) -> None:
    assert not is_ignored_name(name)


def test_globs_match_from_the_right() -> None:
    assert wanted(P("a/b/x.pdf"), ["*.pdf"], [])
    assert not wanted(P("a/b/x.txt"), ["*.pdf"], [])
    assert wanted(P("2024/invoices/x.pdf"), ["invoices/*.pdf"], [])
    assert not wanted(P("2024/x.pdf"), ["invoices/*.pdf"], [])
    assert not wanted(P("drafts/x.pdf"), ["*"], ["drafts/*"])
    assert not wanted(P(".git/config"), ["*"], [])

"""File names of any bytes: a display form safe everywhere, the exact bytes beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from workflowd.filenames import clean_text, display, fs_path, raw
from workflowd.store import FoundFile, Store

LATIN1 = os.fsdecode(b"caf\xe9.txt")  # what os.listdir gives for a name that is not UTF-8


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("plain.txt", "plain.txt"),
        ("été 2024.txt", "été 2024.txt"),
        (LATIN1, "caf\\xe9.txt"),
        ("a\nb.txt", "a\\nb.txt"),
        ("tab\there\r.txt", "tab\\there\\r.txt"),
        ("\x1b[31mred.txt", "\\x1b[31mred.txt"),
        ("invoice\u202etxt.exe", "invoice\\u202etxt.exe"),
        ("a\\xe9.txt", "a\\xe9.txt"),  # a real backslash is left alone: raw tells the two apart
    ],
)
def test_display_is_one_line_of_valid_utf8(name: str, shown: str) -> None:
    assert display(name) == shown
    assert display(os.fsencode(name)) == shown
    shown.encode("utf-8")  # never raises
    assert "\n" not in shown
    json.loads(json.dumps(shown, ensure_ascii=False))


def test_raw_only_where_display_differs_and_round_trips() -> None:
    for name in ("plain.txt", "été.txt", "a\\xe9.txt"):
        assert raw(name) is None
        assert fs_path(display(name), raw(name)) == Path(name)
    for name in (LATIN1, "a\nb.txt", "x" * 251 + "\udcff.txt"):
        assert raw(name) == os.fsencode(name)
        assert fs_path(display(name), raw(name)) == Path(name)


def test_clean_text_escapes_lone_surrogates_only() -> None:
    assert clean_text("line one\nline two é") == "line one\nline two é"
    assert clean_text(f"[Errno 13] {LATIN1}") == "[Errno 13] caf\\xe9.txt"
    assert clean_text("odd \ud800") == "odd \\ud800"


def test_two_names_that_display_alike_are_two_locations(tmp_path: Path) -> None:
    """The byte 0xe9 and the four characters backslash x e 9 show the same; the store keeps both."""
    store = Store(tmp_path / "wf.db")
    try:
        for name in (LATIN1, "caf\\xe9.txt"):
            path = tmp_path / name
            store.documents.add(
                FoundFile("s", display(path), display(name), "a" * 64, 1, 7, path_raw=raw(path)),
                pipeline="default", max_attempts=3,
            )
        assert store.documents.file_paths(1) == [tmp_path / LATIN1, tmp_path / "caf\\xe9.txt"]
        assert store.documents.is_known_file(str(tmp_path / LATIN1), 1, 7)
        assert store.documents.is_known_file(tmp_path / "caf\\xe9.txt", 1, 7)
        assert not store.documents.is_known_file(tmp_path / "café.txt", 1, 7)
        # the same place again is the same location, not a third one
        store.documents.add(
            FoundFile("s", display(tmp_path / LATIN1), "x", "a" * 64, 1, 8, path_raw=raw(tmp_path / LATIN1)),
            pipeline="default", max_attempts=3,
        )
        assert len(store.documents.locations(1)) == 2
        assert store.documents.is_known_file(str(tmp_path / LATIN1), 1, 8)
    finally:
        store.close()

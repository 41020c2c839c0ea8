"""safe_filename: attachment names from mail must never become paths."""

from __future__ import annotations

import pytest

from workflowd.extract.names import safe_filename


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("/tmp/x", "x"),
        ("C:\\evil\\a.exe", "a.exe"),
        ("..\\..\\windows\\system32\\cmd.exe", "cmd.exe"),
        ("report.pdf", "report.pdf"),
        ("  .hidden", "hidden"),
        ("...", "attachment"),
        ("..", "attachment"),
        ("dir/", "attachment"),
        ("", "attachment"),
        (None, "attachment"),
        ("a\x00b\x07c\n.txt", "abc.txt"),
        ("=?utf-8?q?caf=C3=A9.txt?=", "café.txt"),
        ("=?utf-8?b?Li4vLi4vZXRjL3NoYWRvdw==?=", "shadow"),
        ("ciële.txt", "ciële.txt"),
    ],
)
def test_safe_filename(raw: str | None, expected: str) -> None:
    assert safe_filename(raw) == expected


def test_fallback_is_used_for_nothing_left() -> None:
    assert safe_filename("/", fallback="message.eml") == "message.eml"


def test_long_names_are_cut_to_255_bytes_keeping_the_extension() -> None:
    name = safe_filename("é" * 300 + ".pdf")
    assert name.endswith(".pdf")
    assert len(name.encode("utf-8")) <= 255
    assert name.startswith("éé")


def test_lone_surrogates_do_not_survive() -> None:
    name = safe_filename("bad\udce9name.txt")
    name.encode("utf-8")  # would raise on a lone surrogate
    assert name.endswith(".txt")

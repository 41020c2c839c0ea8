"""Safe targets: each rendered value is one component, and nothing leaves the target root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workflowd.errors import RuleError
from workflowd.rules.paths import (
    MAX_NAME_BYTES,
    check_inside,
    component,
    fit_name,
    numbered,
    render_name,
    render_target,
)
from workflowd.rules.templates import TemplateProblem


@pytest.mark.parametrize(("value", "expected"), [
    ("../../x", ".._.._x"),
    ("/etc/y", "_etc_y"),
    ("a\nb\r\tc", "a_b__c"),
    ("nul\x00here", "nul_here"),
    ("back\\slash", "back_slash"),
    ("esc\x1b[31mred", "esc_[31mred"),
    ("evil\u202etxt.exe", "evil_txt.exe"),
    (".", "_"),
    ("..", "_"),
    (" .. ", "_"),
    ("", ""),
    (2026, "2026"),
])
def test_a_value_becomes_one_safe_component(value: object, expected: str) -> None:
    assert component(value) == expected


def test_hostile_values_stay_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for title in ("../../x", "/etc/y", "..", ".", "a/../../b", "line\nbreak", "\x00", "~", "~root"):
        target = render_target(f"{root}/{{{{ title }}}}/{{{{ name }}}}", {"title": title, "name": "../f.txt"})
        assert os.path.commonpath([root, target]) == str(root), (title, target)
        assert target.parent.parent == root and "/" not in target.name and "\n" not in str(target)


def test_an_empty_value_makes_an_underscore_folder_and_a_trailing_slash_keeps_the_name(tmp_path: Path) -> None:
    assert render_target(f"{tmp_path}/{{{{ a }}}}/x.txt", {"a": ""}) == tmp_path / "_" / "x.txt"
    assert render_target(f"{tmp_path}/{{{{ a }}}}/", {"a": "inv", "name": "f.pdf"}) == tmp_path / "inv" / "f.pdf"


def test_literal_dot_dot_in_a_template_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="'..' folder"):
        render_target(f"{tmp_path}/r/{{{{ a }}}}/../../x", {"a": "b"})


def test_a_link_inside_the_root_that_leads_out_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "out").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(RuleError, match="through a link"):
        render_target(f"{root}/{{{{ a }}}}/x.txt", {"a": "out"})
    with pytest.raises(RuleError, match="outside"):
        check_inside(tmp_path / "x", root)


def test_names_are_cut_to_the_file_systems_limit_keeping_the_extension(tmp_path: Path) -> None:
    long = "é" * 300
    name = fit_name(long + ".pdf")
    assert name.endswith(".pdf") and len(os.fsencode(name)) <= MAX_NAME_BYTES
    target = render_target(f"{tmp_path}/{{{{ t }}}}.txt", {"t": long})
    assert len(os.fsencode(target.name)) <= MAX_NAME_BYTES and target.suffix == ".txt"
    target.write_text("fits")  # the file system takes it
    n = numbered(target, 12)
    assert n.name.endswith(" (12).txt") and len(os.fsencode(n.name)) <= MAX_NAME_BYTES


def test_numbered_names() -> None:
    assert numbered(Path("/a/b.pdf"), 2) == Path("/a/b (2).pdf")
    assert numbered(Path("/a/README"), 3) == Path("/a/README (3)")
    assert numbered(Path("/a/.hidden"), 2) == Path("/a/.hidden (2)")


def test_rename_gives_a_name_in_the_same_folder(tmp_path: Path) -> None:
    assert render_name("{{ label }}-{{ name }}", {"label": "a/b", "name": "x.pdf"}, tmp_path) == tmp_path / "a_b-x.pdf"


def test_strict_undefined_and_none_are_errors_with_a_fallback_that_works(tmp_path: Path) -> None:
    with pytest.raises(TemplateProblem, match="label or 'unsorted'"):
        render_target(f"{tmp_path}/{{{{ label }}}}/x", {"label": None})
    assert render_target(f"{tmp_path}/{{{{ label or 'unsorted' }}}}/x", {"label": None}) == tmp_path / "unsorted" / "x"
    with pytest.raises(TemplateProblem, match="undefined"):
        render_target(f"{tmp_path}/{{{{ nothing }}}}/x", {})

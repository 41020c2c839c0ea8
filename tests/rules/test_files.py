"""Moves and copies: never a file lost or overwritten by accident, each on_conflict mode."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest

from workflowd.errors import RuleError
from workflowd.rules import files
from workflowd.rules.files import copy_file, move_file, resolve

from .helpers import sha


def _file(path: Path, content: str) -> tuple[Path, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path, sha(path)


def _place(fn, src: Path, target: Path, digest: str, mode: str, tmp_path: Path):
    return fn(src, target, sha256=digest, on_conflict=mode, trash_dir=tmp_path / "data" / "trash")


def test_move_to_a_free_name_keeps_the_inode_and_mtime(tmp_path: Path) -> None:
    src, digest = _file(tmp_path / "in" / "a.txt", "A")
    before = src.stat()
    placed = _place(move_file, src, tmp_path / "out" / "deep" / "a.txt", digest, "rename_new", tmp_path)
    assert placed.path == tmp_path / "out" / "deep" / "a.txt" and placed.kind == "free"
    after = placed.path.stat()
    assert not src.exists() and (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.parametrize("fn", [move_file, copy_file])
def test_rename_new_numbers_the_new_file(tmp_path: Path, fn) -> None:
    target, old = _file(tmp_path / "out" / "a.txt", "old")
    _file(tmp_path / "out" / "a (2).txt", "older")
    src, digest = _file(tmp_path / "in" / "a.txt", "new")
    placed = _place(fn, src, target, digest, "rename_new", tmp_path)
    assert placed.path == tmp_path / "out" / "a (3).txt" and sha(placed.path) == digest
    assert sha(target) == old and src.exists() == (fn is copy_file)


@pytest.mark.parametrize("fn", [move_file, copy_file])
def test_skip_leaves_both_files(tmp_path: Path, fn) -> None:
    target, old = _file(tmp_path / "out" / "a.txt", "old")
    src, digest = _file(tmp_path / "in" / "a.txt", "new")
    placed = _place(fn, src, target, digest, "skip", tmp_path)
    assert placed.path is None and placed.kind == "skip" and sha(target) == old and sha(src) == digest


@pytest.mark.parametrize("fn", [move_file, copy_file])
def test_overwrite_replaces_the_file_there(tmp_path: Path, fn) -> None:
    target, _ = _file(tmp_path / "out" / "a.txt", "old")
    src, digest = _file(tmp_path / "in" / "a.txt", "new")
    placed = _place(fn, src, target, digest, "overwrite", tmp_path)
    assert placed.path == target and sha(target) == digest and src.exists() == (fn is copy_file)
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]  # no temporary left


@pytest.mark.parametrize("fn", [move_file, copy_file])
def test_rename_existing_numbers_the_file_there(tmp_path: Path, fn) -> None:
    target, old = _file(tmp_path / "out" / "a.txt", "old")
    src, digest = _file(tmp_path / "in" / "a.txt", "new")
    placed = _place(fn, src, target, digest, "rename_existing", tmp_path)
    aside = tmp_path / "out" / "a (2).txt"
    assert placed.path == target and sha(target) == digest and sha(aside) == old
    assert placed.displaced == [(target, aside)]


def test_trash_moves_the_file_there_into_the_data_dirs_trash(tmp_path: Path) -> None:
    target, old = _file(tmp_path / "out" / "a.txt", "old")
    _file(tmp_path / "data" / "trash" / "a.txt", "trashed before")
    src, digest = _file(tmp_path / "in" / "a.txt", "new")
    placed = _place(move_file, src, target, digest, "trash", tmp_path)
    assert placed.path == target and sha(target) == digest and not src.exists()
    assert sha(tmp_path / "data" / "trash" / "a (2).txt") == old
    assert sha(tmp_path / "data" / "trash" / "a.txt") == sha(_file(tmp_path / "x", "trashed before")[0])


@pytest.mark.parametrize("mode", ["skip", "overwrite", "rename_new", "rename_existing", "trash"])
def test_identical_content_already_there_counts_as_done(tmp_path: Path, mode: str) -> None:
    target, digest = _file(tmp_path / "out" / "a.txt", "same")
    src, _ = _file(tmp_path / "in" / "a.txt", "same")
    placed = _place(copy_file, src, target, digest, mode, tmp_path)
    assert placed.kind == "identical" and placed.path == target and src.exists()
    placed = _place(move_file, src, target, digest, mode, tmp_path)
    assert placed.kind == "identical" and not src.exists() and sha(target) == digest
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]


def test_a_file_moved_onto_itself_stays(tmp_path: Path) -> None:
    src, digest = _file(tmp_path / "a.txt", "x")
    placed = _place(move_file, src, src, digest, "overwrite", tmp_path)
    assert placed.kind == "same" and sha(src) == digest


def _other_file_system() -> Path | None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        return None
    return shm if os.stat(shm).st_dev != os.stat(tempfile.gettempdir()).st_dev else None


def test_move_across_file_systems_copies_verifies_then_deletes(tmp_path: Path) -> None:
    """A real second file system (/dev/shm is tmpfs): os.link fails with EXDEV."""
    other = _other_file_system()
    if other is None:
        pytest.skip("no second writable file system (/dev/shm) beside the temp dir")
    out = Path(tempfile.mkdtemp(dir=other, prefix="workflowd-test-"))
    try:
        src, digest = _file(tmp_path / "in" / "a.txt", "across" * 1000)
        before = src.stat()
        _file(out / "a.txt", "already here")
        placed = _place(move_file, src, out / "a.txt", digest, "rename_new", tmp_path)
        assert placed.path == out / "a (2).txt" and sha(placed.path) == digest and not src.exists()
        assert placed.path.stat().st_mtime_ns == before.st_mtime_ns  # a rescan knows it by size and mtime
        assert sorted(p.name for p in out.iterdir()) == ["a (2).txt", "a.txt"]  # no temporary left
    finally:
        for p in out.iterdir():
            p.unlink()
        out.rmdir()


def test_a_copy_that_does_not_verify_leaves_the_source_and_no_target(tmp_path: Path, monkeypatch) -> None:
    src, digest = _file(tmp_path / "in" / "a.txt", "content")

    real_link = os.link

    def exdev(src, dst, **k):
        if Path(src).name.startswith(".workflowd-"):  # the verified copy, beside its target
            return real_link(src, dst, **k)
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(files.os, "link", exdev)
    with pytest.raises(RuleError, match="no longer holds"):
        move_file(src, tmp_path / "out" / "a.txt", sha256="0" * 64, on_conflict="rename_new",
                  trash_dir=tmp_path / "trash")
    assert sha(src) == digest and list((tmp_path / "out").iterdir()) == []
    placed = move_file(src, tmp_path / "out" / "a.txt", sha256=digest, on_conflict="rename_new",
                       trash_dir=tmp_path / "trash")
    assert sha(placed.path) == digest and not src.exists()


def test_without_hard_links_a_placeholder_reserves_the_name(tmp_path: Path, monkeypatch) -> None:
    def no_links(*a, **k):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(files.os, "link", no_links)
    target, old = _file(tmp_path / "out" / "a.txt", "old")
    src, digest = _file(tmp_path / "in" / "a.txt", "new")
    placed = _place(move_file, src, target, digest, "rename_new", tmp_path)
    assert placed.path == tmp_path / "out" / "a (2).txt" and sha(placed.path) == digest and sha(target) == old
    copied = _place(copy_file, placed.path, target, digest, "rename_new", tmp_path)
    assert copied.kind == "identical" or sha(copied.path) == digest


def test_a_file_that_appears_meanwhile_is_not_overwritten(tmp_path: Path, monkeypatch) -> None:
    src, digest = _file(tmp_path / "in" / "a.txt", "new")
    target = tmp_path / "out" / "a.txt"
    real_resolve = files.resolve

    def late(*a, **k):
        res = real_resolve(*a, **k)
        target.write_text("someone else's")  # appears after the check, before the move
        return res

    monkeypatch.setattr(files, "resolve", late)
    with pytest.raises(RuleError, match="appeared"):
        _place(move_file, src, target, digest, "skip", tmp_path)
    assert target.read_text() == "someone else's" and sha(src) == digest
    placed = _place(move_file, src, target, digest, "rename_new", tmp_path)  # numbered instead
    assert placed.path == tmp_path / "out" / "a (2).txt" and target.read_text() == "someone else's"


def test_resolve_changes_nothing(tmp_path: Path) -> None:
    target, _ = _file(tmp_path / "out" / "a.txt", "old")
    src, digest = _file(tmp_path / "in" / "a.txt", "new")
    for mode in ("skip", "overwrite", "rename_new", "rename_existing", "trash"):
        resolve(src, target, sha256=digest, on_conflict=mode, trash_dir=tmp_path / "trash")
    assert not (tmp_path / "trash").exists() and sorted(p.name for p in target.parent.iterdir()) == ["a.txt"]

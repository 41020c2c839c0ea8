"""FolderSource with real inotify events (watchdog) on temp folders."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workflowd.config import FolderSourceSettings
from workflowd.sources.folder import FolderSource, new_observer


class Harness:
    def __init__(self, source: FolderSource):
        self.source = source
        self.known: set[tuple[str, int, int]] = set()
        self.taken: list[Path] = []
        self.woken = threading.Event()

    def is_known(self, path: str, size: int, mtime_ns: int) -> bool:
        return (path, size, mtime_ns) in self.known

    def take_ready(self) -> list[Path]:
        got = self.source.ready(self.is_known)
        for p in got:
            st = p.stat()
            self.known.add((str(p), st.st_size, st.st_mtime_ns))
        self.taken += got
        return got

    def run_for(self, seconds: float) -> list[Path]:
        """Drive the source as the daemon does: sleep until next_check or an event."""
        deadline = time.monotonic() + seconds
        before = len(self.taken)
        while time.monotonic() < deadline:
            self.take_ready()
            nxt = self.source.next_check()
            timeout = deadline - time.monotonic() if nxt is None else min(nxt - time.monotonic(), deadline - time.monotonic())
            self.woken.wait(max(0.0, timeout))
            self.woken.clear()
        self.take_ready()
        return self.taken[before:]


@pytest.fixture
def make(tmp_path: Path) -> Iterator:
    observer = new_observer()
    observer.start()
    sources = []

    def factory(**kw) -> Harness:
        skip = kw.pop("_skip", ())
        kw.setdefault("path", tmp_path / "inbox")
        kw.setdefault("settle_delay", 0.3)
        Path(kw["path"]).mkdir(parents=True, exist_ok=True)
        conf = FolderSourceSettings(**kw)
        conf.resolve(tmp_path)
        h = Harness(None)  # type: ignore[arg-type]
        h.source = FolderSource(conf, wake=h.woken.set, skip_dirs=skip, clock=time.monotonic)
        h.source.start(observer)
        sources.append(h.source)
        time.sleep(0.05)  # let the inotify watch settle in
        return h

    yield factory
    for s in sources:
        s.stop()
    observer.stop()
    observer.join()


def test_new_file_is_taken_once_after_settling(make, tmp_path: Path) -> None:
    h = make()
    (tmp_path / "inbox" / "a.txt").write_text("hello")
    assert h.take_ready() == []  # not settled yet
    assert [p.name for p in h.run_for(1.5)] == ["a.txt"]
    assert h.run_for(0.5) == []


def test_partial_and_hidden_files_are_ignored_until_renamed(make, tmp_path: Path) -> None:
    h = make()
    inbox = tmp_path / "inbox"
    (inbox / "movie.part").write_text("x")
    (inbox / ".secret").write_text("x")
    (inbox / "~$doc.docx").write_text("x")
    (inbox / "dl.crdownload").write_text("x")
    assert h.run_for(1.0) == []
    os.rename(inbox / "dl.crdownload", inbox / "dl.pdf")
    assert [p.name for p in h.run_for(1.0)] == ["dl.pdf"]


def test_slow_writer_is_taken_complete(make, tmp_path: Path) -> None:
    h = make(settle_delay=0.6)
    path = tmp_path / "inbox" / "slow.txt"
    chunks = [f"chunk {i}\n" * 100 for i in range(8)]

    def writer() -> None:
        with open(path, "w") as fh:
            for chunk in chunks:
                fh.write(chunk)
                fh.flush()
                time.sleep(0.25)

    t = threading.Thread(target=writer)
    t.start()
    taken = h.run_for(4.0)
    t.join()
    assert taken == [path]
    assert h.known == {(str(path), len("".join(chunks)), path.stat().st_mtime_ns)}


def test_recursive_and_not(make, tmp_path: Path) -> None:
    deep = make(path=tmp_path / "deep")
    flat = make(path=tmp_path / "flat", recursive=False)
    for root in (tmp_path / "deep", tmp_path / "flat"):
        (root / "sub").mkdir()
        (root / "sub" / "inner.txt").write_text("inner")
        (root / "top.txt").write_text("top")
    time.sleep(0.1)
    assert sorted(p.name for p in deep.run_for(1.0)) == ["inner.txt", "top.txt"]
    assert sorted(p.name for p in flat.run_for(0.5)) == ["top.txt"]


def test_folder_moved_in_is_walked(make, tmp_path: Path) -> None:
    h = make()
    outside = tmp_path / "outside"
    (outside / "nested").mkdir(parents=True)
    (outside / "nested" / "x.md").write_text("# x")
    (outside / "y.txt").write_text("y")
    os.rename(outside, tmp_path / "inbox" / "moved")
    assert sorted(p.name for p in h.run_for(1.5)) == ["x.md", "y.txt"]


def test_include_exclude(make, tmp_path: Path) -> None:
    h = make(include=["*.pdf", "*.txt"], exclude=["drafts/*"])
    inbox = tmp_path / "inbox"
    (inbox / "drafts").mkdir()
    for name in ("a.pdf", "b.txt", "c.jpg", "drafts/d.txt"):
        (inbox / name).write_text(name)
    assert sorted(p.name for p in h.run_for(1.0)) == ["a.pdf", "b.txt"]


def test_scan_picks_up_existing_files_except_known(make, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "old.txt").write_text("old")
    (inbox / "seen.txt").write_text("seen")
    h = make()
    st = (inbox / "seen.txt").stat()
    h.known.add((str(inbox / "seen.txt"), st.st_size, st.st_mtime_ns))
    assert h.source.scan(h.is_known) == 1
    assert [p.name for p in h.run_for(1.0)] == ["old.txt"]


def test_data_dir_inside_the_folder_is_skipped(make, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "data").mkdir()
    h = make(_skip=(inbox / "data",))
    (inbox / "data" / "workflowd.db").write_text("db")
    (inbox / "real.txt").write_text("real")
    assert [p.name for p in h.run_for(1.0)] == ["real.txt"]


def test_folder_on_a_missing_mount_is_watched_once_it_appears(make, tmp_path: Path) -> None:
    h = make(path=tmp_path / "mnt" / "inbox")
    h.source.stop()
    (tmp_path / "mnt" / "inbox").rmdir()
    (tmp_path / "mnt").rmdir()
    assert h.source.scan(h.is_known) == 0  # missing, and not created where its parent is missing too
    assert not (tmp_path / "mnt").exists()
    (tmp_path / "mnt" / "inbox").mkdir(parents=True)
    (tmp_path / "mnt" / "inbox" / "there.txt").write_text("there")
    assert h.source.scan(h.is_known) == 1  # the rescan finds it and starts watching
    time.sleep(0.05)
    (tmp_path / "mnt" / "inbox" / "new.txt").write_text("new")
    assert sorted(p.name for p in h.run_for(1.0)) == ["new.txt", "there.txt"]


def test_missing_folder_whose_parent_exists_is_created(make, tmp_path: Path) -> None:
    h = make(path=tmp_path / "inbox")
    h.source.stop()
    (tmp_path / "inbox").rmdir()
    h.source.scan(h.is_known)
    assert (tmp_path / "inbox").is_dir()
    time.sleep(0.05)
    (tmp_path / "inbox" / "x.txt").write_text("x")
    assert [p.name for p in h.run_for(1.0)] == ["x.txt"]

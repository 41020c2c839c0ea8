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


# -- names of any bytes, and one path's failure --------------------------------------------


def _write(folder: Path, name: bytes, data: bytes) -> Path:
    path = Path(os.fsdecode(os.fsencode(folder) + b"/" + name))
    path.write_bytes(data)
    return path


ODD_NAMES = [b"caf\xe9.txt", b"line\nbreak.txt", b"x" * 251 + b".txt", b"\xff\xfe.md"]


def test_names_of_any_bytes_are_found_taken_and_known_after(make, tmp_path: Path) -> None:
    from workflowd.config import Settings
    from workflowd.store import Store

    store = Store(tmp_path / "wf.db")
    settings = Settings(data_dir=tmp_path / "data")
    h = make()
    h.source.stop()  # found by the scan (the daemon test has them come by events)
    inbox = tmp_path / "inbox"
    paths = [_write(inbox, n, b"content of " + n) for n in ODD_NAMES + [b"plain.txt"]]
    known = h.source.known(store)
    try:
        assert h.source.scan(known) == 5
        deadline = time.monotonic() + 5
        taken: list[Path] = []
        while len(taken) < 5 and time.monotonic() < deadline:
            for path in h.source.ready(known):
                h.source.take(store, settings, path)
                taken.append(path)
            time.sleep(0.1)
        assert sorted(taken) == sorted(paths)
        assert h.source.scan(known) == 0  # the exact bytes are known: nothing is taken twice
        names = {d["name"] for d in store.documents.list()}
        assert names == {"caf\\xe9.txt", "line\\nbreak.txt", "x" * 251 + ".txt", "\\xff\\xfe.md", "plain.txt"}
        for doc in store.documents.list():
            assert store.documents.file_paths(doc["id"])[0].read_bytes().startswith(b"content of ")
    finally:
        store.close()


def test_a_path_that_fails_costs_that_path_only(make, tmp_path: Path) -> None:
    h = make(settle_delay=0.1)
    h.source.stop()  # scans only: no event makes candidates behind the test's back
    inbox = tmp_path / "inbox"
    for name in ("a.txt", "bad-in-scan.txt", "b.txt", "bad-when-ready.txt", "c.txt"):
        (inbox / name).write_text(name)
    failing = "bad-in-scan"

    def known(path: str, size: int, mtime_ns: int) -> bool:
        if failing in path:
            raise RuntimeError(f"cannot look up {path}")
        return False

    assert h.source.scan(known) == 4  # every file but the one whose look-up fails
    failing = "bad-when-ready"
    ready: list[Path] = []
    deadline = time.monotonic() + 3
    while h.source.pending and time.monotonic() < deadline:
        ready += h.source.ready(known)
        time.sleep(0.05)
    assert sorted(p.name for p in ready) == ["a.txt", "b.txt", "c.txt"]
    assert h.source.pending == 0  # the failing one waits for the next rescan, not in a loop


# -- symbolic links -------------------------------------------------------------------------


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    """An inbox with a real file, links to it (inside), and links out of it: a secret file and
    a folder elsewhere, and a link back to the inbox itself (a loop)."""
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("not for the daemon")
    (outside / "inner.txt").write_text("in a folder elsewhere")
    (inbox / "real.txt").write_text("real")
    (inbox / "link-in.txt").symlink_to(inbox / "real.txt")
    (inbox / "sub" / "rel-in.txt").symlink_to("../real.txt")
    (inbox / "link-out.txt").symlink_to(outside / "secret.txt")
    (inbox / "folder-out").symlink_to(outside)
    (inbox / "sub" / "loop").symlink_to(inbox)
    return inbox


@pytest.mark.parametrize("recursive", [True, False])
def test_links_out_of_the_folder_are_not_followed_in_any_mode(make, linked: Path, recursive: bool) -> None:
    h = make(path=linked, recursive=recursive)
    h.source.scan(h.is_known)
    taken = sorted(str(p.relative_to(linked)) for p in h.run_for(1.0))
    expected = ["link-in.txt", "real.txt"] + (["sub/rel-in.txt"] if recursive else [])
    assert taken == expected
    # ... nor when the link appears later (an inotify event)
    (linked / "new-out.txt").symlink_to(linked.parent / "elsewhere" / "secret.txt")
    (linked / "new-in.txt").symlink_to(linked / "real.txt")
    assert [p.name for p in h.run_for(1.0)] == ["new-in.txt"]


def test_follow_symlinks_takes_what_links_lead_to_once_without_looping(make, linked: Path) -> None:
    h = make(path=linked, follow_symlinks=True)
    h.source.scan(h.is_known)
    taken = sorted(str(p.relative_to(linked)) for p in h.run_for(1.0))
    assert taken == ["folder-out/inner.txt", "folder-out/secret.txt", "link-in.txt", "link-out.txt", "real.txt",
                     "sub/rel-in.txt"]


def test_a_link_swapped_in_after_the_scan_is_refused_when_taken(tmp_path: Path, linked: Path) -> None:
    from workflowd.config import Settings
    from workflowd.intake import OutsideFolder, take_file
    from workflowd.store import Store

    store = Store(tmp_path / "wf.db")
    settings = Settings(data_dir=tmp_path / "data")
    try:
        with pytest.raises(OutsideFolder, match="outside"):
            take_file(store, settings, linked / "link-out.txt", source="s", pipeline="default", within=linked)
        with pytest.raises(OutsideFolder):
            take_file(store, settings, linked / "folder-out" / "inner.txt", source="s", pipeline="default",
                      within=linked)
        doc_id, _ = take_file(store, settings, linked / "link-in.txt", source="s", pipeline="default",
                              within=linked)
        assert store.documents.get(doc_id)["name"] == "link-in.txt"
        os.mkfifo(linked / "fifo.txt")  # never blocks the daemon
        with pytest.raises(OSError, match="not a regular file"):
            take_file(store, settings, linked / "fifo.txt", source="s", pipeline="default", within=linked)
    finally:
        store.close()


def test_a_file_closed_by_its_writer_is_taken_without_waiting_the_settle_delay(make, tmp_path: Path) -> None:
    h = make(settle_delay=5.0)
    path = tmp_path / "inbox" / "closed.txt"
    path.write_text("written and closed")  # IN_CLOSE_WRITE
    started = time.monotonic()
    assert h.run_for(1.5) == [path]
    assert time.monotonic() - started < 5.0


def test_a_file_still_open_waits_the_settle_delay(make, tmp_path: Path) -> None:
    h = make(settle_delay=1.0)
    path = tmp_path / "inbox" / "open.txt"
    with open(path, "w") as fh:
        fh.write("first part\n")
        fh.flush()
        assert h.run_for(0.6) == []  # not closed, not settled
        fh.write("second part\n")
    assert h.run_for(1.5) == [path]  # closed now
    assert h.known == {(str(path), path.stat().st_size, path.stat().st_mtime_ns)}


def test_a_file_moved_in_from_an_unwatched_folder_is_taken_at_once(make, tmp_path: Path) -> None:
    h = make(settle_delay=5.0)
    outside = tmp_path / "downloads"
    outside.mkdir()
    (outside / "report.txt").write_text("complete before it moves")
    time.sleep(0.1)
    os.rename(outside / "report.txt", tmp_path / "inbox" / "report.txt")
    assert [p.name for p in h.run_for(1.5)] == ["report.txt"]


def test_candidates_are_a_bounded_window_and_rescans_take_the_rest(make, tmp_path: Path, monkeypatch) -> None:
    from workflowd.sources import folder

    monkeypatch.setattr(folder, "MAX_CANDIDATES", 6)
    h = make(settle_delay=0.1)
    names = [f"f{i:02d}.txt" for i in range(20)]
    for name in names:
        (tmp_path / "inbox" / name).write_text(name)
    time.sleep(0.3)
    assert h.source.pending <= 6
    taken: list[Path] = []
    for _ in range(20):  # the daemon's loop: take what settled, rescan when the window has room
        assert h.source.pending <= 6
        taken += h.run_for(0.3)
        if h.source.rescan_due():
            h.source.scan(h.is_known)
        if len(taken) == len(names):
            break
    assert sorted(p.name for p in taken) == names  # each once
    assert not h.source.rescan_due()


def test_a_queue_overflow_event_asks_for_a_rescan(make, tmp_path: Path) -> None:
    """What the handler does with the event the emitter queues when the kernel reports
    IN_Q_OVERFLOW (the real overflow is made in tests/daemon/test_flood.py)."""
    from workflowd.sources.folder import QueueOverflowEvent, _Handler

    h = make()
    (tmp_path / "inbox" / "missed.txt").write_text("its events were lost")
    h.run_for(0.6)
    h.taken.clear()
    h.known.clear()  # as if the events had been lost: nothing is known of it
    assert not h.source.rescan_due()
    _Handler(h.source).dispatch(QueueOverflowEvent(str(tmp_path / "inbox")))
    assert h.source.rescan_due() and h.woken.is_set()
    assert h.source.scan(h.is_known) == 1
    assert [p.name for p in h.run_for(1.0)] == ["missed.txt"]

"""Watched folders: inotify events through watchdog, plus rescans for what events miss.

A file becomes a candidate when an event or a scan shows it; it is taken once its size and
mtime have not changed for ``settle_delay`` seconds. A file its writer has closed
(IN_CLOSE_WRITE) or that was renamed into place is complete: it waits only
``CLOSED_SETTLE_S`` (a write after the close makes it wait ``settle_delay`` again). Nothing
here polls: the daemon asks ``next_check()`` when to look again and sleeps until then.

The candidates are a bounded window (``MAX_CANDIDATES``) over what waits on disk: taken files
are durable jobs in the store, so a flood of files is walked a window at a time. A file that
finds the window full is left for a rescan, which the daemon runs once the window has room
(``rescan_due()``); so is everything the kernel dropped when its inotify queue overflowed.

Every path is handled on its own: a name that is not UTF-8, a file that vanishes or cannot
be read, costs that file (logged with the reason), never the scan or the other files.
Symbolic links are taken when they lead to a file inside the watched folder; one leading out
of it only with ``follow_symlinks = true`` (folders reached through links are walked once each,
so a link to an ancestor cannot loop).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

try:
    from watchdog.observers.inotify import InotifyFullEmitter, InotifyObserver
except ImportError:  # not Linux
    InotifyFullEmitter = InotifyObserver = None  # type: ignore[assignment,misc]

from ..config import FolderSourceSettings, MaildirSourceSettings, Settings
from ..filenames import display
from ..intake import is_within, take_file
from ..store import Store
from .filters import wanted

log = logging.getLogger("workflowd.sources.folder")

KnownFile = Callable[[str, int, int], bool]

MAX_TAKE_FAILURES = 5  # tries of a file whose recording fails, before waiting for the next rescan
MAX_CANDIDATES = 1000  # files waiting to settle, per folder; more wait on disk for a rescan
CLOSED_SETTLE_S = 0.2  # how long a file closed by its writer (or renamed in) must stay unchanged


@dataclass
class _Candidate:
    size: int | None = None
    mtime_ns: int | None = None
    since: float = 0.0  # monotonic time the current (size, mtime) was first seen
    failures: int = 0  # times taking it failed for an unexpected reason (the store...)
    closed: bool = False  # its writer closed it, or it was renamed in: complete, unless written again


class QueueOverflowEvent(FileSystemEvent):
    """The kernel's inotify queue overflowed (IN_Q_OVERFLOW): events under ``src_path`` were lost."""

    event_type = "overflow"


if InotifyFullEmitter is not None:

    class _InotifyEmitter(InotifyFullEmitter):  # type: ignore[misc,valid-type]
        """watchdog's inotify emitter (unmatched moves reported as moves, so that a file renamed
        in from an unwatched folder is known complete), which also tells the handler when the
        kernel's queue overflowed: watchdog itself only logs it and rebuilds its watches."""

        def on_thread_start(self) -> None:
            super().on_thread_start()
            group = getattr(self, "_inotify", None)  # watchdog 7's watch group (private)
            if group is None or not hasattr(group, "on_queue_overflow"):
                return  # another watchdog: overflows are then found by the periodic rescan only
            rebuild = group.on_queue_overflow

            def on_queue_overflow() -> None:
                rebuild()
                self.queue_event(QueueOverflowEvent(self.watch.path))

            group.on_queue_overflow = on_queue_overflow


class _Observer(Observer):  # type: ignore[misc,valid-type]
    """The platform's observer, calling ``on_exit`` when its thread ends however it ends."""

    on_exit: Callable[[], None] | None = None

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)
        if InotifyObserver is not None and isinstance(self, InotifyObserver):
            self._emitter_class = _InotifyEmitter  # BaseObserver makes each watch's emitter from it

    def run(self) -> None:
        try:
            super().run()
        finally:
            if self.on_exit is not None:
                self.on_exit()


def new_observer(on_exit: Callable[[], None] | None = None) -> BaseObserver:
    # The dispatcher thread waits on its queue with this timeout: long, so an idle daemon
    # does not wake up every second (stop() still ends it at once).
    observer = _Observer(timeout=3600)
    observer.on_exit = on_exit
    return observer


class FolderSource:
    def __init__(
        self,
        conf: FolderSourceSettings | MaildirSourceSettings,
        *,
        wake: Callable[[], None],
        skip_dirs: tuple[Path, ...] = (),
        clock: Callable[[], float],
    ):
        self.conf = conf
        self.name = conf.name
        self.root = Path(conf.path)
        self.recursive = getattr(conf, "recursive", True)
        self.settle_delay = getattr(conf, "settle_delay", 0.0)
        self.follow_symlinks = getattr(conf, "follow_symlinks", False)
        self._wake = wake
        self._skip_dirs = tuple(d.resolve() for d in skip_dirs)
        self._clock = clock
        self._lock = threading.Lock()
        self._candidates: dict[Path, _Candidate] = {}
        self._taking: dict[Path, int] = {}  # handed out by ready(): failures so far
        self._watch: ObservedWatch | None = None
        self._observer: BaseObserver | None = None
        self._missing_logged = False
        self._outside_logged: set[Path] = set()
        self._rescan_wanted = False  # files were left on disk (window full, events lost)

    # -- watching --------------------------------------------------------------------------

    def start(self, observer: BaseObserver) -> None:
        self._observer = observer
        self._ensure_watch()

    def stop(self) -> None:
        if self._observer is not None and self._watch is not None:
            try:
                self._observer.unschedule(self._watch)
            except (KeyError, OSError):
                pass
        self._watch = None

    def _watch_alive(self) -> bool:
        if self._observer is None or self._watch is None:
            return False
        return any(e.watch == self._watch and e.is_alive() for e in self._observer.emitters)

    def _ensure_watch(self) -> None:
        """Start (or restart) the inotify watch if the folder exists and none is running."""
        if self._observer is None or self._watch_alive():
            return
        if not self.root.exists() and self.root.parent.is_dir():
            try:
                self.root.mkdir()
                log.info("created the watched folder %s", display(self.root))
            except OSError:
                pass
        if not self.root.is_dir():
            if not self._missing_logged:
                log.warning("watched folder %s does not exist; looking again at each rescan", display(self.root))
                self._missing_logged = True
            return
        self.stop()
        try:
            self._watch = self._observer.schedule(_Handler(self), str(self.root), recursive=self.recursive)
        except OSError as exc:
            # e.g. the inotify watch limit: rescans still find every file, only later.
            log.error("cannot watch %s (%s); relying on rescans", display(self.root), exc)
            self._watch = None
            return
        if self._missing_logged:
            log.info("watched folder %s is back", display(self.root))
        self._missing_logged = False

    # -- taking ----------------------------------------------------------------------------

    def known(self, store: Store) -> KnownFile:
        """Whether a file (path, size, mtime) was taken already."""
        return store.documents.is_known_file

    def take(self, store: Store, settings: Settings, path: Path) -> tuple[int, bool]:
        """Record the file as a document and queue it. Raises FileChanged, OSError, store errors."""
        return take_file(store, settings, path, source=self.name, pipeline=self.conf.pipeline,
                         within=None if self.follow_symlinks else self.root)

    def due(self) -> float | None:
        """When the source has work of its own next (clock time), besides its candidates."""
        return None

    def after_processing(self, store: Store) -> None:
        """Actions due once documents are processed (none for a folder: originals are only read)."""

    # -- candidates ------------------------------------------------------------------------

    def wants(self, path: Path) -> bool:
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return False
        if not self.recursive and len(relative.parts) != 1:
            return False
        if self._skip_dirs and any(path.is_relative_to(d) for d in self._skip_dirs):
            return False
        return wanted(PurePosixPath(relative.as_posix()), self.conf.include, self.conf.exclude)

    def touch(self, path: Path, closed: bool = False) -> None:
        """An event says this path changed: (re)start its settle timer. ``closed``: its writer
        closed it, or it was renamed into place (it settles in ``CLOSED_SETTLE_S``)."""
        if not self.wants(path):
            return
        with self._lock:
            if path not in self._candidates and len(self._candidates) >= MAX_CANDIDATES:
                self._rescan_wanted = True  # the window is full: a rescan finds it later
                return
            self._candidates[path] = _Candidate(since=self._clock(), closed=closed)
        self._wake()

    def overflowed(self) -> None:
        """The kernel dropped events: rescan as soon as the window has room."""
        log.warning("the inotify event queue overflowed; rescanning %s for the files it missed", display(self.root))
        with self._lock:
            self._rescan_wanted = True
        self._wake()

    def rescan_due(self) -> bool:
        """Whether files were left on disk (a full window, lost events) and the window has room
        for them now: at most half full, so that a flood is walked in large steps."""
        with self._lock:
            return self._rescan_wanted and len(self._candidates) <= MAX_CANDIDATES // 2

    def touch_tree(self, directory: Path) -> None:
        """A folder appeared (created or moved in): everything inside is a candidate."""
        if directory.is_symlink() and not self.allowed(directory):
            return  # a link out of the folder: its tree is not walked
        for path in self._walk(directory):
            self.touch(path)

    def scan(self, known: KnownFile) -> int:
        """Make candidates of the files not yet taken; also restarts a lost watch. Returns how many.

        A path that fails (unreadable, gone, a name nothing can store) is logged and skipped."""
        self._ensure_watch()
        with self._lock:
            self._rescan_wanted = False
        if not self.root.is_dir():
            return 0
        added = 0
        for path in self._walk(self.root):
            with self._lock:
                if path in self._candidates:
                    continue
                if len(self._candidates) >= MAX_CANDIDATES:
                    self._rescan_wanted = True  # the rest when the window has room
                    break
            try:
                # The walk enters no folder through a link unless links are followed, so only a
                # link itself can lead out: the full check is left for those.
                if not self.wants(path) or (path.is_symlink() and not self.allowed(path)):
                    continue
                st = path.stat()
                if known(str(path), st.st_size, st.st_mtime_ns):
                    continue
            except FileNotFoundError:
                continue
            except Exception as exc:  # noqa: BLE001 - one path's failure is that path's only
                log.warning("skipping %s in this scan: %s", display(path), _reason(exc))
                continue
            with self._lock:
                if path not in self._candidates:
                    self._candidates[path] = _Candidate(since=self._clock())
                    added += 1
        return added

    def allowed(self, path: Path) -> bool:
        """Whether a path may be taken: it leads to a place inside the folder, or links are followed."""
        if self.follow_symlinks or is_within(os.path.realpath(path), self.root):
            return True
        if path not in self._outside_logged:
            self._outside_logged.add(path)
            log.info("not taking %s: a link out of %s (set follow_symlinks = true to take it)",
                     display(path), display(self.root))
        return False

    def _walk(self, directory: Path) -> Iterator[Path]:
        """The files under ``directory``: links to files included (``allowed`` decides), folders
        reached through links only with ``follow_symlinks``, each folder once."""
        if not self.recursive:
            try:
                with os.scandir(directory) as it:
                    for entry in it:
                        try:
                            if entry.is_file():  # follows a link; allowed() checks where to
                                yield Path(entry.path)
                        except OSError:
                            continue
            except OSError as exc:
                log.warning("cannot list %s: %s", display(directory), _reason(exc))
            return
        seen: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(
            directory, followlinks=self.follow_symlinks,
            onerror=lambda e: log.warning("cannot list %s: %s", display(e.filename or "?"), _reason(e)),
        ):
            try:
                st = os.stat(dirpath)
            except OSError:
                dirnames[:] = []
                continue
            if (st.st_dev, st.st_ino) in seen:  # reached again through a link: a loop, or twice
                dirnames[:] = []
                continue
            seen.add((st.st_dev, st.st_ino))
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                yield Path(dirpath) / name

    def ready(self, known: KnownFile) -> list[Path]:
        """Candidates whose size and mtime have settled; they leave the candidate list.

        A candidate that fails here is dropped with the reason; the next rescan looks again."""
        now = self._clock()
        out = []
        with self._lock:
            items = list(self._candidates.items())
        for path, cand in items:
            if cand.since > now:  # waiting after a failure
                continue
            if cand.size is not None and now - cand.since < self._delay(cand):
                continue  # not due: a change meanwhile shows in its size or mtime when it is
            try:
                if self._settled(path, cand, now, known):
                    out.append(path)
            except Exception as exc:  # noqa: BLE001
                self._forget(path, cand)
                log.warning("skipping %s until the next rescan: %s", display(path), _reason(exc))
        return out

    def _settled(self, path: Path, cand: _Candidate, now: float, known: KnownFile) -> bool:
        try:
            st = path.stat()
        except OSError:
            self._forget(path, cand)  # gone (deleted or moved away) before it settled
            return False
        if not os.path.isfile(path) or not self.allowed(path):
            self._forget(path, cand)
            return False
        if (st.st_size, st.st_mtime_ns) != (cand.size, cand.mtime_ns):
            with self._lock:
                if self._candidates.get(path) is cand:
                    cand.size, cand.mtime_ns, cand.since = st.st_size, st.st_mtime_ns, now
            return False
        if now - cand.since < self._delay(cand):
            return False
        if known(str(path), st.st_size, st.st_mtime_ns):
            self._forget(path, cand)
            return False
        with self._lock:
            if self._candidates.get(path) is cand:  # it leaves the list; kept aside for a failure
                del self._candidates[path]
                self._taking[path] = cand.failures
        return True

    def _delay(self, cand: _Candidate) -> float:
        return min(self.settle_delay, CLOSED_SETTLE_S) if cand.closed else self.settle_delay

    def _forget(self, path: Path, cand: _Candidate) -> None:
        with self._lock:
            if self._candidates.get(path) is cand:
                del self._candidates[path]

    def retry_later(self, path: Path) -> None:
        """A taken file changed while it was read: settle it again."""
        with self._lock:
            self._taking.pop(path, None)
            self._candidates[path] = _Candidate(since=self._clock())

    def failed(self, path: Path) -> bool:
        """Taking the file failed for an unexpected reason (the store...): try again after a
        growing delay, a few times; then wait for the next rescan. Returns whether it will be tried."""
        with self._lock:
            failures = self._taking.pop(path, 0) + 1
            if failures >= MAX_TAKE_FAILURES:
                return False
            delay = max(self.settle_delay, 1.0) * 2**failures
            self._candidates[path] = _Candidate(since=self._clock() + delay, failures=failures)
        return True

    def taken(self, path: Path) -> None:
        """The file was recorded (or will not be: gone, unreadable)."""
        with self._lock:
            self._taking.pop(path, None)

    def next_check(self) -> float | None:
        """When a candidate may next have settled (clock time), or None when there is none."""
        with self._lock:
            if not self._candidates:
                return None
            # A candidate not yet stat'ed is due at once; others when their delay is over.
            return min((c.since if c.size is None else c.since + self._delay(c)) for c in self._candidates.values())

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._candidates)


class _Handler(FileSystemEventHandler):
    def __init__(self, source: FolderSource):
        self.source = source

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            if isinstance(event, QueueOverflowEvent):
                self.source.overflowed()
            elif isinstance(event, DirMovedEvent):
                if event.dest_path:  # not moved out of the folder
                    self.source.touch_tree(Path(os.fsdecode(event.dest_path)))
            elif isinstance(event, DirCreatedEvent):
                self.source.touch_tree(Path(os.fsdecode(event.src_path)))
            elif isinstance(event, FileMovedEvent):
                if event.dest_path:  # renamed into place: complete
                    self.source.touch(Path(os.fsdecode(event.dest_path)), closed=True)
            elif isinstance(event, FileClosedEvent):
                self.source.touch(Path(os.fsdecode(event.src_path)), closed=True)
            elif isinstance(event, FileCreatedEvent | FileModifiedEvent):
                self.source.touch(Path(os.fsdecode(event.src_path)))
        except Exception:  # never let one odd event stop the watcher thread
            log.exception("error handling %s", display(repr(event)))

    def on_overflow(self, event: QueueOverflowEvent) -> None:
        """Handled in on_any_event (watchdog's dispatch calls ``on_<event_type>`` too)."""


def _reason(exc: BaseException) -> str:
    """One line saying why a path failed (an OSError's message already escapes the name)."""
    return display(f"{type(exc).__name__}: {exc}" if not isinstance(exc, OSError) else str(exc))

"""Maildir sources: each message delivered to ``new/`` (and, if configured, ``cur/``) is taken once.

A Maildir delivery is atomic (the message is written in ``tmp/`` and renamed into ``new/``),
so a message is taken as soon as it is seen, without waiting for it to settle. A message is
known by the unique part of its file name (before ``:2,``), which stays the same when a mail
client moves it to ``cur/`` and changes its flags; that is what makes it "taken once". The
bytes are copied to the blob store, so moving or deleting the message later loses nothing.
With ``mark_seen``, a message whose document has been processed is moved to ``cur/`` with
the ``S`` flag, as a mail client does when the message is read.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from ..config import MaildirSourceSettings, Settings
from ..filenames import display
from ..filenames import raw as raw_bytes
from ..intake import MailMessage, open_file, take_file, take_message
from ..store import Store
from .folder import FolderSource, KnownFile

log = logging.getLogger("workflowd.sources.maildir")

ACTION_RECHECK_S = 5.0


def unique_name(file_name: str) -> str:
    """The part of a Maildir file name that identifies the message (without its flags), as
    display text (workflowd/filenames.py): storable whatever bytes the name holds."""
    for sep in (":", "!"):  # "!" where ":" is not allowed in file names
        if f"{sep}2," in file_name:
            return display(file_name.split(f"{sep}2,", 1)[0])
    return display(file_name)


class MaildirSource(FolderSource):
    conf: MaildirSourceSettings

    def __init__(
        self,
        conf: MaildirSourceSettings,
        *,
        wake: Callable[[], None],
        clock: Callable[[], float],
        skip_dirs: tuple[Path, ...] = (),
    ):
        super().__init__(conf, wake=wake, clock=clock, skip_dirs=skip_dirs)
        self.recursive = True
        self.settle_delay = 0.0
        self._subdirs = ("new", "cur") if conf.include_cur else ("new",)
        self._actions_waiting = False

    def wants(self, path: Path) -> bool:
        try:
            relative = path.relative_to(self.root)
        except ValueError:
            return False
        return (
            len(relative.parts) == 2
            and relative.parts[0] in self._subdirs
            and not relative.parts[1].startswith(".")
        )

    def _walk(self, directory: Path):  # noqa: ANN202 - an iterator of paths, as in FolderSource
        for sub in self._subdirs:
            folder = self.root / sub
            if directory != self.root and directory != folder:
                continue
            try:
                with os.scandir(folder) as it:
                    for entry in it:
                        if entry.is_file(follow_symlinks=False):
                            yield Path(entry.path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                log.warning("cannot list %s: %s", folder, exc)

    def known(self, store: Store) -> KnownFile:
        return lambda path, size, mtime_ns: store.mail.known(self.name, "", unique_name(Path(path).name))

    def take(self, store: Store, settings: Settings, path: Path) -> tuple[int, bool]:
        key = unique_name(path.name)
        size = path.stat().st_size
        if size > settings.extract.max_file_mb * 1024 * 1024:
            # Too large to hold in memory: recorded as a failed document with the reason.
            with store.transaction():
                doc_id, created = take_file(
                    store, settings, path, source=self.name, pipeline=self.conf.pipeline, within=self.root
                )
                store.mail.record(self.name, "", key, message_id=None, document_id=doc_id)
            return doc_id, created
        with open_file(path, within=self.root) as fh:
            raw = fh.read()
        msg = MailMessage(raw=raw, folder="", key=key, location=display(path), location_raw=raw_bytes(path),
                          act=self.conf.mark_seen)
        doc_id, created = take_message(store, settings, msg, source=self.name, pipeline=self.conf.pipeline)
        self._actions_waiting = self._actions_waiting or self.conf.mark_seen
        return doc_id, created

    # -- marking seen ------------------------------------------------------------------------

    def due(self) -> float | None:
        return self._clock() + ACTION_RECHECK_S if self._actions_waiting else None

    def after_processing(self, store: Store) -> None:
        if not self.conf.mark_seen:
            return
        due = store.mail.due_actions(self.name)
        done = []
        for row in due:
            try:
                self._mark_seen(row["key"])
            except OSError as exc:
                log.warning("cannot mark message %s in %s as seen: %s", row["key"], self.root, exc)
            done.append(row["id"])  # a message that is gone or read-only is not tried forever
        if done:
            store.mail.actions_done(done)
        self._actions_waiting = store.mail.waiting_actions(self.name) > 0

    def _mark_seen(self, key: str) -> None:
        for sub in ("new", "cur"):
            folder = self.root / sub
            try:
                names = [n for n in os.listdir(folder) if unique_name(n) == key]
            except FileNotFoundError:
                continue
            for name in names:
                sep = next((f"{c}2," for c in (":", "!") if f"{c}2," in name), None)
                stem, flags = name.split(sep, 1) if sep else (name, "")  # the real name, not key's display
                if "S" in flags and sub == "cur":
                    return
                new_flags = "".join(sorted(set(flags) | {"S"}))
                os.rename(folder / name, self.root / "cur" / f"{stem}:2,{new_flags}")
                return

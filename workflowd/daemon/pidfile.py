"""The pidfile, held under an exclusive ``flock`` for the daemon's whole life.

The lock, not the file's existence, says whether a daemon runs: a daemon killed with
SIGKILL leaves the file behind but the kernel drops its lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path
from typing import Any

from ..errors import AlreadyRunningError


class PidFile:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None
        self.info: dict[str, Any] = {}
        self._lock = threading.Lock()  # update() is called from the warm-up thread too

    def acquire(self, info: dict[str, Any]) -> None:
        """Take the lock and write ``info`` (pid, start time...) or raise AlreadyRunningError."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            other = read_info(self.path)
            pid = other.get("pid", "?")
            raise AlreadyRunningError(
                f"workflowd is already running (pid {pid}, pidfile {self.path}); stop it first with `workflowd stop`"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, (json.dumps(info) + "\n").encode())
        os.fsync(fd)
        self._fd = fd
        self.info = dict(info)

    def update(self, **changes: Any) -> None:
        """Change keys of the info (``ready``...) while holding the lock. The new text is written
        over the old one, never shorter (padded), so a reader never finds the file empty."""
        with self._lock:
            if self._fd is None:
                return
            self.info.update(changes)
            data = json.dumps(self.info).encode()
            old = os.fstat(self._fd).st_size
            os.pwrite(self._fd, data + b" " * max(0, old - len(data) - 1) + b"\n", 0)

    def release(self) -> None:
        with self._lock:
            if self._fd is None:
                return
            try:
                os.ftruncate(self._fd, 0)
            finally:
                os.close(self._fd)  # closing drops the lock
                self._fd = None


def read_info(path: Path) -> dict[str, Any]:
    for _ in range(3):  # read again if it was caught in the middle of an update
        try:
            text = Path(path).read_text()
            return json.loads(text) if text.strip() else {}
        except OSError:
            return {}
        except ValueError:
            continue
    return {}


def running_info(path: Path) -> dict[str, Any] | None:
    """The info of the daemon holding the lock, or None when no daemon runs."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_info(path) or {"pid": None}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)

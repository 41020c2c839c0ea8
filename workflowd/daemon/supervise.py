"""Keeping the daemon's threads alive: a dead worker or source thread is restarted, a bounded
number of times.

A thread that dies wakes the main loop (its ``on_exit`` callback, and ``thread_died`` for the
traceback), so nothing polls. A part that keeps dying is a bug or a broken machine, not bad
luck: past ``MAX_RESTARTS`` restarts in ``RESTART_WINDOW_S`` the daemon exits non-zero, so
that systemd (``Restart=on-failure``) starts it again from scratch and the log says why.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from ..errors import DaemonError

log = logging.getLogger("workflowd.daemon")

MAX_RESTARTS = 5
RESTART_WINDOW_S = 600.0


class RestartsExhausted(DaemonError):
    """A part of the daemon died more often than it may be restarted."""


class RestartBudget:
    """At most ``limit`` restarts of each part within ``window`` seconds."""

    def __init__(
        self,
        limit: int = MAX_RESTARTS,
        window: float = RESTART_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._times: dict[str, deque[float]] = {}

    def spend(self, part: str) -> None:
        """Record a restart of ``part``; raises RestartsExhausted when none is left."""
        now = self.clock()
        times = self._times.setdefault(part, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        if len(times) >= self.limit:
            raise RestartsExhausted(
                f"{part} died {len(times) + 1} times within {self.window / 60:.0f} minutes; workflowd "
                "exits so that its service manager can start it afresh (see the log for each death)"
            )
        times.append(now)


def thread_hook(wake: Callable[[], None]) -> Callable[[threading.ExceptHookArgs], None]:
    """A ``threading.excepthook`` that logs a thread's death (SystemExit included, which the
    default hook hides) and wakes the main loop."""

    def hook(args: threading.ExceptHookArgs) -> None:
        name = args.thread.name if args.thread is not None else "a thread"
        log.error(
            "thread %s died: %s: %s", name, args.exc_type.__name__, args.exc_value,
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
        )
        wake()

    return hook

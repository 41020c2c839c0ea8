"""Loading the models in the background when the daemon starts (and after a reload that
rebuilds the pipelines), so that the first document does not wait for them.

The worker does not wait for it: a document that comes first loads what it needs itself, and
the loads are shared (ModelProvider and ModelInUse load each model once, under a lock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..pipeline import Pipelines

log = logging.getLogger("workflowd.daemon")


class WarmUp(threading.Thread):
    """One warm-up of ``pipelines``; ``on_done(seconds)`` is called when it is over, whatever failed."""

    def __init__(self, pipelines: Pipelines, on_done: Callable[[float], None]):
        super().__init__(name="workflowd-warm-up", daemon=True)
        self.pipelines = pipelines
        self.on_done = on_done

    def run(self) -> None:
        started = time.monotonic()
        try:
            self.pipelines.warm_up()  # logs each step's failure itself
        except Exception:
            log.exception("warm-up failed; the first documents load the models themselves")
        self.on_done(time.monotonic() - started)

"""Retraining from corrections, run by the daemon: on a cron schedule (apscheduler) and as soon
as ``training.min_new_corrections`` new corrections have arrived.

Training runs as a child process (``workflowd train --task classify --json``) at low CPU
priority, so the worker keeps processing documents; only one runs at a time. The registry
changes only when the child promotes its model, in one transaction at its very end: a child
that crashes or is killed leaves the model in use as it was. The corrections count is read
at the daemon's rescans, so an idle daemon does not wake up for it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

from ..config import Settings
from ..store import Store

log = logging.getLogger("workflowd.training")
TASK = "classify"


class Retraining:
    def __init__(
        self, settings: Settings, config_arg: str | None = None, on_done: Callable[[], None] | None = None
    ):
        """``on_done`` is called when a training process ends (a promotion queues re-runs)."""
        self.settings = settings
        self.config_arg = config_arg
        self.on_done = on_done
        self._lock = threading.Lock()
        self.child: subprocess.Popen | None = None
        self._scheduler: Any = None
        self._last_attempt: tuple[int, str | None] | None = None  # (corrections in force, newest id) tried

    def start(self) -> None:
        schedule = self.settings.training.schedule
        if not schedule:
            return
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger

        self._scheduler = BackgroundScheduler(daemon=True)
        self._scheduler.add_job(
            self.trigger,
            CronTrigger.from_crontab(schedule),
            args=["the schedule"],
            id="retrain",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=3600,
        )
        self._scheduler.start()
        job = self._scheduler.get_job("retrain")
        log.info(
            "retraining from corrections: on schedule %r (next %s)%s",
            schedule,
            job.next_run_time,
            f", and after {self.settings.training.min_new_corrections} new corrections"
            if self.settings.training.min_new_corrections
            else "",
        )

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        with self._lock:
            child = self.child
        if child is not None and child.poll() is None:
            log.info("stopping the training process %d; the model in use stays", child.pid)
            child.terminate()

    @property
    def running(self) -> bool:
        with self._lock:
            return self.child is not None and self.child.poll() is None

    def check(self, store: Store) -> None:
        """At a rescan: retrain when enough corrections arrived since the newest trained version."""
        need = self.settings.training.min_new_corrections
        if not need or self.running:
            return
        newest = store.scalar("SELECT max(created_at) FROM model_versions WHERE task = ?", (TASK,))
        new = store.corrections.count_since(TASK, newest)
        state = (
            int(
                store.scalar("SELECT count(*) FROM corrections WHERE task = ? AND undone_at IS NULL", (TASK,))
            ),
            store.scalar("SELECT max(created_at) FROM corrections WHERE task = ?", (TASK,)),
        )
        if new >= need and state != self._last_attempt:
            self._last_attempt = state
            self.trigger(f"{new} new corrections")

    def trigger(self, why: str) -> bool:
        """Start a training process unless one is running; returns whether one was started."""
        with self._lock:
            if self.child is not None and self.child.poll() is None:
                log.info("retraining (%s) skipped: training process %d is still running", why, self.child.pid)
                return False
            cmd = [sys.executable, "-m", "workflowd", "train", "--task", TASK, "--json"]
            if self.config_arg:
                cmd += ["--config", self.config_arg]
            nice = self.settings.training.nice
            log_path = self.settings.log_path.parent / "training.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            err = log_path.open("ab")
            try:
                self.child = subprocess.Popen(
                    cmd,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    stdin=subprocess.DEVNULL,
                    preexec_fn=(lambda: os.nice(nice)) if nice else None,
                    start_new_session=True,
                )
            finally:
                err.close()
            child = self.child
        log.info("retraining %s (%s): training process %d started at nice %d", TASK, why, child.pid, nice)
        threading.Thread(target=self._wait, args=(child,), name="retrain-wait", daemon=True).start()
        return True

    def _wait(self, child: subprocess.Popen) -> None:
        out, _ = child.communicate()
        try:
            self._report(child, out)
        finally:
            if self.on_done is not None:
                self.on_done()

    def _report(self, child: subprocess.Popen, out: bytes) -> None:
        if child.returncode != 0:
            log.warning(
                "retraining %s failed (exit %s); the model in use is unchanged (see %s)",
                TASK,
                child.returncode,
                self.settings.log_path.parent / "training.log",
            )
            return
        try:
            result = json.loads(out or b"{}")
        except json.JSONDecodeError:
            log.warning("retraining %s gave no result; the model in use is unchanged", TASK)
            return
        if result.get("promoted"):
            log.info("retraining %s: %s promoted (%s)", TASK, result.get("version"), result.get("reason"))
            if result.get("requeued"):
                log.info("re-running %s on %d document(s) not yet reviewed", TASK, result["requeued"])
        else:
            log.info("retraining %s: %s not promoted: %s", TASK, result.get("version"), result.get("reason"))

"""Retraining from corrections, run by the daemon: on a cron schedule (apscheduler) and as soon
as ``training.min_new_corrections`` new corrections of a task have arrived.

Training runs as a child process (``workflowd train --task T --json``) at low CPU priority,
so the worker keeps processing documents; only one runs at a time, and the tasks due wait
their turn. The registry changes only when the child promotes its model, in one transaction
at its very end: a child that crashes or is killed leaves the model in use as it was. The
corrections are counted at the daemon's rescans, so an idle daemon does not wake up for them.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..config import Settings
from ..store import Store

log = logging.getLogger("workflowd.training")
MIN_CORRECTIONS = 6  # fewer cannot be split into training and held-out examples


class Retraining:
    def __init__(
        self,
        settings: Settings,
        config_arg: str | None = None,
        on_done: Callable[[], None] | None = None,
        tasks: Sequence[str] = (),
    ):
        """``tasks``: those that can be retrained from corrections. ``on_done`` is called when a
        training process ends (a promotion queues re-runs)."""
        self.settings = settings
        self.tasks = list(tasks)
        self.config_arg = config_arg
        self.on_done = on_done
        self._lock = threading.Lock()
        self.child: subprocess.Popen | None = None
        self.child_task: str | None = None
        self._waiting: list[tuple[str, str]] = []  # (task, why) due while another one trained
        self._scheduler: Any = None
        self._store: Store | None = None  # the scheduler thread's own connection
        self._last_attempt: dict[str, tuple[int, str | None]] = {}  # task: (in force, newest) tried

    def start(self) -> None:
        schedule = self.settings.training.schedule
        if not schedule:
            return
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger

        self._scheduler = BackgroundScheduler(daemon=True)
        self._scheduler.add_job(
            self._scheduled,
            CronTrigger.from_crontab(schedule),
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
            f", and after {self.settings.training.min_new_corrections} new corrections of a task"
            if self.settings.training.min_new_corrections
            else "",
        )

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        with self._lock:
            child, self._waiting = self.child, []
        if child is not None and child.poll() is None:
            log.info("stopping the training process %d; the model in use stays", child.pid)
            child.terminate()

    @staticmethod
    def _counts(store: Store, task: str) -> tuple[int, int, tuple[int, str | None]]:
        """New corrections since the task's newest trained version, those in force, and a
        fingerprint of the corrections (to not try the same set twice)."""
        new = store.corrections.count_since(task, store.model_versions.newest_created(task))
        in_force = store.corrections.count_in_force(task)
        return new, in_force, (in_force, store.corrections.latest(task))

    def check(self, store: Store) -> None:
        """At a rescan: retrain each task that got enough corrections since its newest version."""
        need = self.settings.training.min_new_corrections
        if not need:
            return
        for task in self.tasks:
            new, _in_force, state = self._counts(store, task)
            if new >= need and state != self._last_attempt.get(task):
                self._last_attempt[task] = state
                self.trigger(task, f"{new} new corrections")

    def _scheduled(self) -> None:
        """On schedule: every task with new corrections since its newest version (and enough)."""
        if self._store is None:
            self._store = Store(self.settings.db_path)
        due = 0
        for task in self.tasks:
            new, in_force, _state = self._counts(self._store, task)
            if new and in_force >= MIN_CORRECTIONS:
                due += 1
                self.trigger(task, "the schedule")
        if not due:
            log.info("scheduled retraining: no task has new corrections")

    def trigger(self, task: str, why: str) -> bool:
        """Start a training process for ``task``, or queue it behind the one running; returns
        whether one was started now."""
        with self._lock:
            if self.child is not None and self.child.poll() is None:
                if task != self.child_task and task not in [t for t, _ in self._waiting]:
                    self._waiting.append((task, why))
                    log.info(
                        "retraining %s (%s) waits for the training process %d", task, why, self.child.pid
                    )
                return False
            # -P: the daemon's working directory (where `start` was run) stays off sys.path
            cmd = [sys.executable, "-P", "-m", "workflowd", "train", "--task", task, "--json"]
            if self.config_arg:
                cmd += ["--config", self.config_arg]
            nice = self.settings.training.nice
            log_path = self.settings.log_path.parent / "training.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            err = log_path.open("ab")
            try:
                # No preexec_fn: in a threaded process the child could deadlock before exec.
                # The priority is lowered from here instead, right after the child starts.
                self.child = subprocess.Popen(
                    cmd,
                    stdout=subprocess.PIPE,
                    stderr=err,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            finally:
                err.close()
            if nice:  # `nice` steps nicer than the daemon, as nice(1) would; its threads inherit it
                try:
                    os.setpriority(os.PRIO_PROCESS, self.child.pid,
                                   min(os.getpriority(os.PRIO_PROCESS, 0) + nice, 19))
                except OSError as exc:  # gone already: its exit is reported as usual
                    log.warning("cannot lower the priority of training process %d: %s", self.child.pid, exc)
            child, self.child_task = self.child, task
        log.info("retraining %s (%s): training process %d started at nice %d", task, why, child.pid, nice)
        threading.Thread(target=self._wait, args=(child, task), name="retrain-wait", daemon=True).start()
        return True

    def _wait(self, child: subprocess.Popen, task: str) -> None:
        out, _ = child.communicate()
        try:
            self._report(child, task, out)
        finally:
            if self.on_done is not None:
                self.on_done()
            with self._lock:
                following = self._waiting.pop(0) if self._waiting else None
            if following is not None:
                self.trigger(*following)

    def _report(self, child: subprocess.Popen, task: str, out: bytes) -> None:
        if child.returncode != 0:
            log.warning(
                "retraining %s failed (exit %s); the model in use is unchanged (see %s)",
                task,
                child.returncode,
                self.settings.log_path.parent / "training.log",
            )
            return
        try:
            result = json.loads(out or b"{}")
        except json.JSONDecodeError:
            log.warning("retraining %s gave no result; the model in use is unchanged", task)
            return
        if result.get("promoted"):
            log.info("retraining %s: %s promoted (%s)", task, result.get("version"), result.get("reason"))
            if result.get("requeued"):
                log.info("re-running %s on %d document(s) not yet reviewed", task, result["requeued"])
        else:
            log.info("retraining %s: %s not promoted: %s", task, result.get("version"), result.get("reason"))

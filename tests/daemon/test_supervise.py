"""Keeping threads alive: a bounded number of restarts, and deaths that wake the main loop."""

from __future__ import annotations

import logging
import sys
import threading
from pathlib import Path

import pytest

from workflowd.config import ImapSourceSettings, Settings
from workflowd.daemon.supervise import RestartBudget, RestartsExhausted, thread_hook
from workflowd.sources.imap import ImapSource


def test_restarts_are_bounded_per_part_within_the_window() -> None:
    now = [0.0]
    budget = RestartBudget(limit=3, window=600, clock=lambda: now[0])
    for _ in range(3):
        budget.spend("the worker thread")
        now[0] += 10
    budget.spend("the folder watcher")  # another part has its own budget
    with pytest.raises(RestartsExhausted, match="the worker thread died 4 times within 10 minutes"):
        budget.spend("the worker thread")
    now[0] += 600  # the oldest restarts are out of the window
    budget.spend("the worker thread")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_thread_ending_with_sys_exit_is_logged_and_wakes_the_loop() -> None:
    woken = threading.Event()
    records = _Records()
    logger = logging.getLogger("workflowd.daemon")
    logger.addHandler(records)
    previous = threading.excepthook
    threading.excepthook = thread_hook(woken.set)
    try:
        thread = threading.Thread(target=lambda: sys.exit(4), name="plugin-thread")
        thread.start()
        thread.join()
    finally:
        threading.excepthook = previous
        logger.removeHandler(records)
    assert woken.is_set()
    [record] = records.records
    assert record.getMessage() == "thread plugin-thread died: SystemExit: 4" and record.exc_info


def test_an_imap_thread_that_ends_says_so_and_can_be_started_again(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "workflowd.db").mkdir(parents=True)  # the thread cannot open its store: it ends
    settings = Settings(data_dir=data_dir, sources=[])
    conf = ImapSourceSettings(type="imap", host="127.0.0.1", port=9, security="none", username="me",
                              password_env="P", name="mail")
    ended = threading.Semaphore(0)
    source = ImapSource(conf, settings, on_new=lambda: None, on_exit=ended.release)
    source.start()
    assert ended.acquire(timeout=10)
    source._thread.join(5)
    assert not source.alive and not source.stopping
    source.start()  # what the daemon does, a bounded number of times
    assert ended.acquire(timeout=10)
    source.stop()


def test_the_folder_watcher_says_when_its_thread_ends() -> None:
    from workflowd.sources.folder import new_observer

    ended = threading.Event()
    observer = new_observer(on_exit=ended.set)
    observer.start()
    assert not ended.wait(0.2)
    observer.stop()  # the daemon's main loop would be woken, see it dead and start another
    observer.join(5)
    assert ended.is_set() and not observer.is_alive()

"""A flood of files into a watched folder, with the kernel's inotify queue made to overflow:
each file becomes one document, exactly once."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import Env
from tests.daemon.helpers import all_settled, daemon_pid, query, wait_for
from tests.daemon.test_daemon import slow_config, start

pytestmark = pytest.mark.slow

FILES = 1500


def max_queued_events() -> int:
    try:
        return int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    except (OSError, ValueError):
        pytest.skip("not Linux (inotify)")


def test_flood_with_an_inotify_overflow_is_taken_once_each(wf_env: Env) -> None:
    env = wf_env
    slow_config(env, seconds=0.0)  # a step that needs no model: this measures the daemon
    pid = start(env)
    # A plain flood first: more files than the daemon's window, so that rescans take the rest.
    early = [f"early-{i:05d}.txt" for i in range(FILES)]
    for i, name in enumerate(early):
        (env.inbox / name).write_text(f"early {i}: the flood test's file number {i}\n")
    wait_for(lambda: all_settled(env, FILES), 120, "every file of the first flood")
    names = [f"note-{i:05d}.txt" for i in range(FILES)]
    # Stop the daemon (all its threads) so that nothing reads the inotify queue, then make more
    # events than the kernel keeps: it drops the rest and queues IN_Q_OVERFLOW.
    os.kill(pid, signal.SIGSTOP)
    try:
        for i, name in enumerate(names):
            (env.inbox / name).write_text(f"note {i}: the flood test's file number {i}\n")
        events, limit, round_ = FILES * 4, max_queued_events(), 0
        while events <= limit + FILES:  # IN_ATTRIB, each one unlike the one before it: not merged
            for name in names:
                os.utime(env.inbox / name, ns=(round_ * 10**9, round_ * 10**9 + 1))
            events += FILES
            round_ += 1
    finally:
        os.kill(pid, signal.SIGCONT)
    started = time.monotonic()
    wait_for(lambda: all_settled(env, 2 * FILES), 120, "every file of the second flood")
    took = time.monotonic() - started
    time.sleep(1.0)  # anything taken twice would show now

    docs = query(env, "SELECT id, name, status FROM documents")
    assert sorted(d["name"] for d in docs) == early + names  # none lost, none twice
    assert {d["status"] for d in docs} == {"done"}
    locations = query(env, "SELECT document_id, path FROM locations")
    assert len(locations) == 2 * FILES
    jobs = query(env, "SELECT document_id FROM jobs")
    assert sorted(j["document_id"] for j in jobs) == sorted(d["id"] for d in docs)
    assert len(query(env, "SELECT id FROM step_results WHERE step = 'slow'")) == 2 * FILES
    log = (env.data_dir / "logs" / "workflowd.log").read_text()
    assert "the inotify event queue overflowed; rescanning" in log
    assert "new file(s)" in log  # rescans took what the lost events and the bounded window left
    assert daemon_pid(env) == pid
    print(f"{FILES} files after an overflow: all done in {took:.1f} s")
    env.run("stop")

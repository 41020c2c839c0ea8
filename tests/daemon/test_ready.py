"""The daemon loads its models in the background at start, and `status` says when it is ready."""

from __future__ import annotations

import time

import pytest

from tests.conftest import Env
from tests.daemon.helpers import all_settled, query, wait_for
from tests.daemon.test_daemon import slow_config, start

pytestmark = pytest.mark.slow


def test_warm_up_runs_in_the_background_and_status_shows_ready(wf_env: Env) -> None:
    env = wf_env
    slow_config(env, seconds=0.0, extra="warm_up_seconds = 3.0\n")
    start(env)
    (env.inbox / "early.txt").write_text("dropped while the models load")
    status = env.json("status")
    assert status["running"] and status["ready"] is False and status["ready_seconds"] is None
    assert "not ready yet" in env.run("status").stdout
    # the worker does not wait for the warm-up: a step that needs nothing loaded runs at once
    wait_for(lambda: all_settled(env, 1), 20, "the early file")
    assert env.json("status")["ready"] is False

    status = wait_for(lambda: (s := env.json("status"))["ready"] and s, 30, "ready")
    assert 3.0 <= status["ready_seconds"] < 30
    assert f"ready: models loaded {status['ready_seconds']:.1f} s after start" in env.run("status").stdout
    log = (env.data_dir / "logs" / "workflowd.log").read_text()
    assert "ready: models loaded in 3." in log

    # a reload builds new pipelines: they warm up too, and the daemon says so again
    env.run("reload")
    wait_for(lambda: (env.data_dir / "logs" / "workflowd.log").read_text().count("ready: models loaded in") == 2,
             30, "the warm-up after the reload")
    status = env.json("status")
    assert status["ready"] and status["ready_seconds"] < 30
    time.sleep(0.2)
    assert len(query(env, "SELECT id FROM documents")) == 1
    env.run("stop")
    assert env.json("status")["ready"] is False

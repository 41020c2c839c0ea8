"""The real daemon delivers alerts to a real receiver on 127.0.0.1 through refusals, time-outs,
503s and a restart: every alert arrives, none is accepted twice, every signature verifies. The
alerts come from a rule with no conditions whose `notify` action fires for every document."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from tests.alerts.conftest import SECRET
from tests.alerts.receiver import Answer, Receiver, free_port
from tests.conftest import Env, base_config
from tests.daemon.helpers import daemon_pid, query, wait_for

pytestmark = pytest.mark.slow


def delivery_config(env: Env, port: int, *, delays: str = "[" + ", ".join(["0.3"] * 300) + "]") -> None:
    env.write_config(
        base_config(env.data_dir, env.inbox)
        + f"""
[pipelines.default]
steps = []

[[rules]]
name = "every-document"
actions = [{{ type = "notify", to = ["hook"], message = "{{{{ name }}}} arrived" }}]

[notifiers.hook]
type = "webhook"
url = "http://127.0.0.1:{port}/hook"
secret_env = "WORKFLOWD_HOOK_SECRET"

[delivery]
timeout = 1
retry_delays = {delays}
jitter = 0.2
"""
    )
    env.env["WORKFLOWD_HOOK_SECRET"] = SECRET


def outbox(env: Env) -> list[dict]:
    return query(env, "SELECT * FROM outbox ORDER BY id")


def drop(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text(f"{name}: some text for the test\n")


def test_alerts_arrive_once_and_signed_through_refusals_timeouts_503s_and_a_restart(wf_env: Env) -> None:
    env = wf_env
    port = free_port()
    delivery_config(env, port)
    env.run("start", timeout=120)
    first_pid = daemon_pid(env)

    # 1. Nothing listens on the port: connections are refused, the deliveries stay pending.
    drop(env.inbox, "a1.txt", "a2.txt", "a3.txt")
    wait_for(
        lambda: (
            len(rows := outbox(env)) == 3
            and all(
                r["attempts"] >= 2 and (r["last_error"] or "").startswith("connection failed") for r in rows
            )
        ),
        60,
        "three deliveries refused twice each",
    )
    assert {r["status"] for r in outbox(env)} == {"pending"}

    # 2. The daemon is restarted while they are pending; two more files wait for it.
    env.run("stop", timeout=60)
    drop(env.inbox, "b1.txt", "b2.txt")
    receiver = Receiver(port, default=Answer(503, delay=1.6)).start()  # answers after the 1 s time-out
    try:
        env.run("start", timeout=120)
        assert daemon_pid(env) != first_pid
        wait_for(
            lambda: len(receiver.snapshot()) >= 3 and len(outbox(env)) == 5,
            60,
            "three timed-out tries and all five alerts",
        )
        assert any((r["last_error"] or "").startswith("timed out") for r in outbox(env))

        # 3. Two 503s (the first asks for 2 s with Retry-After), then 200 for everything.
        with receiver.lock:
            receiver.plan[:] = [Answer(503, {"Retry-After": "2"}), Answer(503)]
            receiver.default = Answer(200)
        wait_for(lambda: [r["status"] for r in outbox(env)] == ["delivered"] * 5, 60, "all five delivered")
        time.sleep(0.5)  # nothing more should come
        requests = receiver.snapshot()
    finally:
        receiver.close()

    rows = outbox(env)
    alerts = {a["id"]: a for a in query(env, "SELECT * FROM alerts")}
    assert len(alerts) == 5 and {r["alert_id"] for r in rows} == set(alerts)
    # Every alert arrived, and none was accepted twice.
    assert receiver.accepted_ids() == {r["message_id"]: 1 for r in rows}
    # Every request, failed or not, carries a valid signature over the alert's own body.
    by_id = {r["message_id"]: r for r in rows}
    for req in requests:
        event = Webhook(SECRET).verify(req.body, req.headers)
        row = by_id[req.headers["webhook-id"]]
        assert req.body.decode() == row["body"] and event["data"]["id"] == row["alert_id"]
        assert event["data"]["name"] == "every-document" and event["data"]["message"].endswith(".txt arrived")
    statuses = [r.answer.status for r in requests]
    assert (
        sum(r.answer.delay > 0 for r in requests) >= 3 and statuses.count(503) >= 5
    )  # time-outs, then two 503s
    assert sum(r.accepted for r in requests) == 5
    # Retry-After: the same delivery was not tried again for 2 s (its own schedule said 0.3 s).
    asked = next(i for i, r in enumerate(requests) if r.answer.headers.get("Retry-After") == "2")
    again = next(
        r for r in requests[asked + 1 :] if r.headers["webhook-id"] == requests[asked].headers["webhook-id"]
    )
    assert again.at - requests[asked].at >= 1.95
    # The first three were refused before the restart, and delivered by the new process.
    assert all(r["attempts"] >= 4 for r in rows[:3])
    log = (env.data_dir / "logs" / "workflowd.log").read_text()
    assert SECRET not in log and "delivered alert" in log


def test_alerts_retry_wakes_the_running_daemon(wf_env: Env) -> None:
    env = wf_env
    receiver = Receiver(default=Answer(404, body=b"not yet")).start()
    try:
        delivery_config(env, receiver.port)
        env.run("start", timeout=120)
        drop(env.inbox, "c.txt")
        wait_for(lambda: [r["status"] for r in outbox(env)] == ["dead"], 60, "the delivery to die on a 404")
        receiver.default = Answer(200)
        asked = time.monotonic()
        out = env.run("alerts", "retry", str(outbox(env)[0]["alert_id"]))
        assert f"the daemon (pid {daemon_pid(env)}) sends them now" in out.stdout
        # The daemon's delivery thread had nothing pending (asleep without a time-out): the signal woke it.
        wait_for(lambda: outbox(env)[0]["status"] == "delivered", 10, "the retried delivery")
        assert time.monotonic() - asked < 10
        assert len(receiver.snapshot()) == 2 and receiver.accepted_ids() == {outbox(env)[0]["message_id"]: 1}
    finally:
        receiver.close()


def test_ingest_without_a_daemon_sends_the_webhook_and_leaves_retries_pending(
    wf_env: Env, tmp_path: Path
) -> None:
    env = wf_env
    receiver = Receiver().start()
    try:
        delivery_config(env, receiver.port)
        drop(tmp_path, "d.txt")
        env.run("ingest", str(tmp_path / "d.txt"))
        [row] = outbox(env)
        assert row["status"] == "delivered" and receiver.accepted_ids() == {row["message_id"]: 1}
        Webhook(SECRET).verify(receiver.snapshot()[0].body, receiver.snapshot()[0].headers)
    finally:
        receiver.close()
    # The receiver is gone: ingest tries once, quickly, and leaves the delivery for the daemon.
    drop(tmp_path, "e.txt")
    started = time.monotonic()
    out = env.run("ingest", str(tmp_path / "e.txt"))
    assert time.monotonic() - started < 15
    assert "1 alert delivery waits to be retried: by the daemon" in out.stderr
    row = outbox(env)[1]
    assert (row["status"], row["attempts"]) == ("pending", 1) and row["last_error"].startswith(
        "connection failed"
    )


def test_ingest_while_the_daemon_runs_hands_its_retries_to_the_daemon(wf_env: Env, tmp_path: Path) -> None:
    env = wf_env
    port = free_port()
    delivery_config(env, port)
    env.run("start", timeout=120)
    drop(tmp_path, "f.txt")
    env.run("ingest", str(tmp_path / "f.txt"))  # its one try is refused
    assert outbox(env)[0]["status"] == "pending"
    receiver = Receiver(port).start()
    try:
        # The daemon had nothing pending and slept without a time-out: ingest woke it.
        wait_for(lambda: outbox(env)[0]["status"] == "delivered", 20, "the daemon to deliver ingest's alert")
        assert receiver.accepted_ids() == {outbox(env)[0]["message_id"]: 1}
    finally:
        receiver.close()

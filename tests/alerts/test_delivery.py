"""The delivery loop against a real receiver on 127.0.0.1, with injected time (``loop(now)``)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from standardwebhooks import Webhook

from tests.alerts.conftest import SECRET
from tests.alerts.receiver import Answer, Receiver, free_port
from workflowd.alerts.delivery import LEASE_FLOOR_S, DeliveryThread, deliver_due
from workflowd.store import Store

T0 = 1_800_000_000.0  # the injected clock: any unix time works for scheduling


def hook(url: str, **kw: object) -> dict:
    return {"hook": {"type": "webhook", "url": url, "secret_env": "TEST_HOOK_SECRET", **kw}}


def test_delivered_signed_with_the_stored_body_and_custom_headers(world, receiver: Receiver) -> None:
    w = world(
        hook(
            receiver.url,
            headers={
                "X-Team": "ops",
                "Authorization": "Basic dTpw",
                "Content-Type": "text/plain",
                "Webhook-Id": "forged",
            },
        )
    )
    alert_id = w.alert()
    assert w.deliverer().loop(now=T0) == 1
    [req] = receiver.snapshot()
    row = w.rows()[0]
    assert req.body == row["body"].encode()
    assert req.headers["content-type"] == "application/json"  # ours win over custom headers
    assert req.headers["webhook-id"] == row["message_id"]
    assert req.headers["x-team"] == "ops" and req.headers["authorization"] == "Basic dTpw"
    event = Webhook(SECRET).verify(req.body, req.headers)
    assert event["type"] == "workflowd.alert.rule" and event["data"]["id"] == alert_id
    assert event["data"]["message"] == "a negative document"
    assert abs(int(req.headers["webhook-timestamp"]) - time.time()) < 60  # the real time of the try
    assert (row["status"], row["attempts"], row["last_status"], row["lease_until"]) == (
        "delivered",
        1,
        200,
        None,
    )
    assert row["delivered_at"]
    assert w.deliverer().loop(now=T0 + 100) == 0  # nothing is sent twice


def test_refused_retries_on_the_schedule_then_dies(world) -> None:
    w = world(hook(f"http://127.0.0.1:{free_port()}/hook"))
    w.alert()
    d = w.deliverer()
    now = T0
    for expected_delay in (10, 20, 30):
        assert d.loop(now=now) == 1
        row = w.rows()[0]
        assert row["status"] == "pending" and row["last_error"].startswith("connection failed")
        assert row["next_attempt_at"] == pytest.approx(now + expected_delay)
        assert d.loop(now=now + expected_delay - 0.01) == 0  # not before it is due
        now += expected_delay
    assert d.loop(now=now) == 1
    row = w.rows()[0]
    assert (row["status"], row["attempts"]) == ("dead", 4)
    assert row["last_error"].startswith("gave up after 4 tries: connection failed")
    assert d.next_due() is None


def test_a_time_out_is_retried(world, receiver: Receiver) -> None:
    w = world(hook(receiver.url), timeout=0.5)
    receiver.then(Answer(200, delay=3.0))
    w.alert()
    started = time.monotonic()
    w.deliverer().loop(now=T0)
    assert time.monotonic() - started < 2.5  # the time-out ended the try, not the (late) answer
    row = w.rows()[0]
    assert (row["status"], row["last_status"]) == ("pending", None)
    assert row["last_error"].startswith("timed out")
    w.deliverer().loop(now=T0 + 10)
    assert w.rows()[0]["status"] == "delivered"
    ids = [r.headers["webhook-id"] for r in receiver.snapshot()]
    assert len(ids) == 2 and ids[0] == ids[1] == w.rows()[0]["message_id"]  # the same id on every try


@pytest.mark.parametrize("status", [408, 429, 500, 503, 302])
def test_408_429_5xx_and_redirects_are_retried(world, receiver: Receiver, status: int) -> None:
    w = world(hook(receiver.url))
    receiver.then(Answer(status, headers={"Location": receiver.url + "/elsewhere"}))
    w.alert()
    w.deliverer().loop(now=T0)
    row = w.rows()[0]
    assert (row["status"], row["last_status"], row["next_attempt_at"]) == ("pending", status, T0 + 10)
    assert [r.path for r in receiver.snapshot()] == ["/hook"]  # a redirect is not followed
    w.deliverer().loop(now=T0 + 10)
    assert w.rows()[0]["status"] == "delivered"


def test_retry_after_is_honoured_in_seconds_and_as_a_date_and_capped(world, receiver: Receiver) -> None:
    w = world(hook(receiver.url), max_retry_after=1000)
    d = w.deliverer()
    receiver.then(Answer(503, headers={"Retry-After": "120"}))
    w.alert()
    d.loop(now=T0)
    assert w.rows()[0]["next_attempt_at"] == T0 + 120  # later than the schedule's 10 s
    assert d.loop(now=T0 + 119) == 0
    date = format_datetime(datetime.fromtimestamp(T0 + 120 + 300, UTC), usegmt=True)
    receiver.then(Answer(429, headers={"Retry-After": date}))
    d.loop(now=T0 + 120)
    assert w.rows()[0]["next_attempt_at"] == pytest.approx(T0 + 420)
    receiver.then(Answer(503, headers={"Retry-After": "86400"}))
    d.loop(now=T0 + 420)
    assert w.rows()[0]["next_attempt_at"] == T0 + 420 + 1000  # cut to max_retry_after
    assert "Retry-After 1000 s" in w.rows()[0]["last_error"]
    receiver.then(Answer(503, headers={"Retry-After": "1"}))
    d.loop(now=T0 + 1420)
    assert len(w.rows()) == 1 and w.rows()[0]["status"] == "dead"  # the schedule ran out (3 delays)


def test_other_4xx_is_dead_at_once_with_the_reason(world, receiver: Receiver) -> None:
    w = world(hook(receiver.url))
    receiver.then(Answer(404, body=b"<h1>No such hook</h1>\n"))
    w.alert()
    w.deliverer().loop(now=T0)
    row = w.rows()[0]
    assert (row["status"], row["attempts"], row["last_status"]) == ("dead", 1, 404)
    assert row["last_error"] == "HTTP 404 Not Found: <h1>No such hook</h1>"
    assert w.deliverer().loop(now=T0 + 10_000) == 0


def test_410_disables_the_endpoint_until_the_url_changes_or_a_retry(world, receiver: Receiver) -> None:
    w = world(hook(receiver.url))
    receiver.then(Answer(410))
    first = w.alert()
    w.deliverer().loop(now=T0)
    assert w.rows()[0]["status"] == "dead" and w.rows()[0]["last_status"] == 410
    assert w.store.outbox.disabled("hook", receiver.url)["reason"].startswith("HTTP 410 Gone")

    second = w.alert()
    w.deliverer().loop(now=T0 + 1)
    assert len(receiver.snapshot()) == 1  # dead without a request
    row = w.rows()[1]
    assert row["status"] == "dead" and row["last_error"].startswith("endpoint disabled since")

    other = Receiver().start()  # a new URL is a new endpoint
    try:
        w.settings.notifiers["hook"].url = other.url
        w.alert()
        w.deliverer().loop(now=T0 + 2)
        assert w.rows()[2]["status"] == "delivered" and len(other.snapshot()) == 1
    finally:
        other.close()

    w.settings.notifiers["hook"].url = receiver.url
    from workflowd.alerts.listing import rearm

    assert rearm(w.store, second, now=T0 + 3) == ["hook"]
    assert w.store.outbox.disabled("hook", receiver.url) is None
    assert w.deliverer().loop(now=T0 + 3) == 1
    assert [r["status"] for r in w.rows()] == ["dead", "delivered", "delivered"]
    assert rearm(w.store, first, now=T0 + 4) == ["hook"]
    w.deliverer().loop(now=T0 + 4)
    assert [r["status"] for r in w.rows()] == ["delivered"] * 3
    assert rearm(w.store, first, now=T0 + 5) == []  # nothing left to retry


def test_jitter_stays_within_its_share(world) -> None:
    w = world(hook(f"http://127.0.0.1:{free_port()}/hook"), jitter=0.2, retry_delays=[100])
    w.alert()
    w.alert()
    w.deliverer(rng=lambda: 0.0).loop(now=T0, limit=1)
    w.deliverer(rng=lambda: 0.999999).loop(now=T0, limit=1)
    assert [r["next_attempt_at"] for r in w.rows()] == [
        pytest.approx(T0 + 80),
        pytest.approx(T0 + 120, abs=0.01),
    ]


def test_a_missing_secret_is_retried_with_a_clear_error_and_never_logged(
    world, receiver, monkeypatch, caplog
) -> None:
    w = world(hook(receiver.url, secret_env="NOT_SET_ANYWHERE"))
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    w.alert()
    w.deliverer().loop(now=T0)
    row = w.rows()[0]
    assert (
        row["status"] == "pending"
        and row["last_error"] == "notifier hook: environment variable NOT_SET_ANYWHERE is not set"
    )
    assert receiver.snapshot() == []
    monkeypatch.setenv("NOT_SET_ANYWHERE", "s3cr3t-value")
    w.deliverer().loop(now=T0 + 10)
    assert w.rows()[0]["status"] == "delivered"
    Webhook(b"s3cr3t-value").verify(receiver.snapshot()[0].body, receiver.snapshot()[0].headers)
    assert "s3cr3t-value" not in caplog.text and "s3cr3t-value" not in json.dumps(w.rows())


def test_the_secret_can_come_from_a_file(world, receiver: Receiver, tmp_path) -> None:
    secret = tmp_path / "hook.secret"
    secret.write_text(SECRET + "\n")
    w = world({"hook": {"type": "webhook", "url": receiver.url, "secret_file": str(secret)}})
    w.alert()
    w.deliverer().loop(now=T0)
    Webhook(SECRET).verify(receiver.snapshot()[0].body, receiver.snapshot()[0].headers)


def test_a_notifier_no_longer_in_the_config_is_dead(world, receiver: Receiver) -> None:
    w = world(hook(receiver.url))
    w.alert()
    del w.settings.notifiers["hook"]
    w.deliverer().loop(now=T0)
    row = w.rows()[0]
    assert row["status"] == "dead" and "no longer in the config" in row["last_error"]


def test_a_lease_keeps_a_second_process_off_and_a_stale_sender_changes_nothing(
    world, receiver: Receiver
) -> None:
    w = world(hook(receiver.url))
    w.alert()
    other = Store(w.settings.db_path)  # another process, as far as SQLite can tell
    try:
        held = other.outbox.claim(now=T0, lease_s=LEASE_FLOOR_S)
        assert held is not None and held["attempts"] == 1
        assert w.deliverer().loop(now=T0 + LEASE_FLOOR_S - 1) == 0  # leased: not sent
        assert w.deliverer().next_due() == T0 + LEASE_FLOOR_S
        assert w.deliverer().loop(now=T0 + LEASE_FLOOR_S) == 1  # the lease ran out: taken over
        assert w.rows()[0]["status"] == "delivered"
        # the first sender comes back late: its record is refused, the delivery stays delivered
        assert not other.outbox.retry_at(held["id"], held["lease_until"], at=T0, status=None, error="late")
        assert w.rows()[0]["status"] == "delivered" and w.rows()[0]["last_error"] is None
    finally:
        other.close()


def test_two_senders_at_once_never_send_one_delivery_twice(world, receiver: Receiver) -> None:
    w = world(hook(receiver.url))
    for _ in range(30):
        w.alert()
    stores = [Store(w.settings.db_path) for _ in range(4)]
    try:
        threads = [
            threading.Thread(target=deliver_due, args=(w.settings, s), kwargs={"budget_s": 30})
            for s in stores
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for s in stores:
            s.close()
    assert sorted(receiver.accepted_ids().values()) == [1] * 30
    assert {r["status"] for r in w.rows()} == {"delivered"}


def test_the_thread_wakes_on_a_new_alert_and_stops(world, receiver: Receiver) -> None:
    w = world(hook(receiver.url))
    thread = DeliveryThread(lambda: w.settings)
    thread.start()
    try:
        time.sleep(0.2)
        assert receiver.snapshot() == []
        w.alert()  # sets OUTBOX_CHANGED
        deadline = time.monotonic() + 5
        while not receiver.snapshot() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(receiver.snapshot()) == 1
    finally:
        thread.stop()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_daemon_restarts_a_delivery_thread_that_died(world, receiver: Receiver) -> None:
    from types import SimpleNamespace

    from workflowd.daemon.daemon import Daemon

    w = world(hook(receiver.url))
    daemon = Daemon(w.settings)
    alive = SimpleNamespace(is_alive=lambda: True, stopping=False)
    daemon.worker, daemon.observer, daemon.mail_sources = (
        alive,
        alive,
        [],
    )  # only the delivery thread is looked at

    def broken() -> object:
        raise RuntimeError("a bug in the delivery thread")

    daemon.delivery = DeliveryThread(broken)
    daemon.delivery.start()
    daemon.delivery.join(timeout=5)
    assert not daemon.delivery.is_alive()
    daemon._supervise()
    try:
        assert daemon.delivery.is_alive()
        w.alert()  # the new thread delivers it
        deadline = time.monotonic() + 5
        while w.rows()[0]["status"] != "delivered" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert w.rows()[0]["status"] == "delivered"
    finally:
        daemon.delivery.stop()
        daemon.delivery.join(timeout=5)

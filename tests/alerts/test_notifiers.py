"""ntfy and Apprise, seen by a real receiver on 127.0.0.1."""

from __future__ import annotations

import json
import sys
from email.header import decode_header, make_header

import pytest

from tests.alerts.receiver import Receiver

T0 = 1_800_000_000.0


def test_ntfy_gets_the_message_with_title_priority_tags_and_token(
    world, receiver: Receiver, monkeypatch
) -> None:
    monkeypatch.setenv("TEST_NTFY_TOKEN", "tk_abc123")
    w = world(
        {
            "phone": {
                "type": "ntfy",
                "url": receiver.url,
                "priority": "high",
                "tags": ["warning", "chart"],
                "token_env": "TEST_NTFY_TOKEN",
            }
        }
    )
    w.alert(message="3 of 4 negative", reason="against 10% before, p = 0.001")
    w.deliverer().loop(now=T0)
    [req] = receiver.snapshot()
    assert req.body.decode() == "3 of 4 negative\nagainst 10% before, p = 0.001"
    assert req.headers["title"] == "workflowd: negative"
    assert req.headers["priority"] == "high"
    assert req.headers["tags"] == "warning,chart"
    assert req.headers["authorization"] == "Bearer tk_abc123"
    assert "webhook-signature" not in req.headers
    assert w.rows()[0]["status"] == "delivered"


def test_ntfy_without_options_takes_the_priority_from_the_level_and_encodes_a_unicode_title(
    world, receiver: Receiver
) -> None:
    w = world({"phone": {"type": "ntfy", "url": receiver.url}})
    w.alert(name="Überweisung → fällig", level="critical", message="caf\u00e9")
    w.deliverer().loop(now=T0)
    [req] = receiver.snapshot()
    assert req.headers["priority"] == "urgent"
    assert "tags" not in req.headers and "authorization" not in req.headers
    assert str(make_header(decode_header(req.headers["title"]))) == "workflowd: Überweisung → fällig"
    assert req.body.decode() == "caf\u00e9\nsentiment negative (0.97)"


def test_ntfy_answers_follow_the_same_rules(world, receiver: Receiver) -> None:
    from tests.alerts.receiver import Answer

    w = world({"phone": {"type": "ntfy", "url": receiver.url}})
    receiver.then(Answer(429, headers={"Retry-After": "60"}), Answer(403, body=b'{"error":"forbidden"}'))
    w.alert()
    w.deliverer().loop(now=T0)
    assert (w.rows()[0]["status"], w.rows()[0]["next_attempt_at"]) == ("pending", T0 + 60)
    w.deliverer().loop(now=T0 + 60)
    assert (w.rows()[0]["status"], w.rows()[0]["last_error"]) == (
        "dead",
        'HTTP 403 Forbidden: {"error":"forbidden"}',
    )


def test_apprise_missing_is_a_dead_delivery_that_says_what_to_install(world, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "apprise", None)  # import apprise now raises ImportError
    w = world({"chat": {"type": "apprise", "urls": ["json://127.0.0.1:9/x"]}})
    w.alert()
    assert w.deliverer().loop(now=T0) == 1
    row = w.rows()[0]
    assert row["status"] == "dead" and "install workflowd[apprise]" in row["last_error"]


def test_apprise_delivers_through_its_own_service_urls(world, receiver: Receiver, monkeypatch) -> None:
    pytest.importorskip("apprise")
    monkeypatch.setenv("TEST_APPRISE_URLS", f"json://127.0.0.1:{receiver.port}/hook")
    w = world({"chat": {"type": "apprise", "urls_env": "TEST_APPRISE_URLS"}})
    w.alert(message="a negative document", level="critical")
    w.deliverer().loop(now=T0)
    [req] = receiver.snapshot()
    sent = json.loads(req.body)
    assert sent["title"] == "workflowd: negative" and sent["message"].startswith("a negative document")
    assert sent["type"] == "failure"
    assert w.rows()[0]["status"] == "delivered"


def test_apprise_failure_is_retried_and_a_bad_url_is_dead(world, receiver: Receiver) -> None:
    pytest.importorskip("apprise")
    from tests.alerts.receiver import Answer

    w = world(
        {
            "chat": {"type": "apprise", "urls": [f"json://127.0.0.1:{receiver.port}/hook"]},
            "bad": {"type": "apprise", "urls": ["nosuchservice://x"]},
        }
    )
    receiver.then(Answer(500))
    w.alert()
    w.deliverer().loop(now=T0)
    chat, bad = w.rows()
    assert chat["status"] == "pending" and "Apprise could not notify" in chat["last_error"]
    assert bad["status"] == "dead" and "1 of 1 Apprise URL(s) are not valid" in bad["last_error"]

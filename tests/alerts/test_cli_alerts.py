"""``workflowd alerts``, ``alerts --json`` and ``alerts retry`` as a user runs them."""

from __future__ import annotations

import json

from standardwebhooks import Webhook

from tests.alerts.conftest import SECRET
from tests.alerts.receiver import Answer, Receiver
from tests.conftest import Env, base_config
from workflowd.alerts.make import make_alert
from workflowd.config import load_config
from workflowd.store import Store

DELIVERY_KEYS = {
    "notifier",
    "status",
    "attempts",
    "next_attempt_at",
    "last_status",
    "last_error",
    "delivered_at",
    "message_id",
}
ALERT_KEYS = {
    "id",
    "created_at",
    "kind",
    "name",
    "level",
    "message",
    "reason",
    "scope",
    "documents",
    "deliveries",
}


def alerts_config(env: Env, url: str) -> None:
    env.write_config(
        base_config(env.data_dir, env.inbox)
        + f"""
[notifiers.hook]
type = "webhook"
url = "{url}"
secret_env = "WORKFLOWD_HOOK_SECRET"

[delivery]
timeout = 1
retry_delays = [0.2, 0.2]
jitter = 0
"""
    )
    env.env["WORKFLOWD_HOOK_SECRET"] = SECRET


def make(env: Env, **kw: object) -> int:
    settings = load_config(env.config)
    store = Store(settings.db_path)
    try:
        args = {
            "kind": "rule",
            "name": "negative",
            "level": "warning",
            "message": "a negative document",
            "reason": "sentiment negative (0.97)",
            "documents": [],
            "notify": ["hook"],
        } | kw
        return make_alert(store, settings, **args)  # type: ignore[arg-type]
    finally:
        store.close()


def test_alerts_list_json_and_retry(wf_env: Env, receiver: Receiver) -> None:
    env = wf_env
    alerts_config(env, receiver.url)
    assert env.json("alerts") == []
    first = make(env)
    second = make(
        env,
        kind="surge",
        name="negative-surge",
        scope="source:news",
        level="critical",
        message="negative surge in source news",
        reason="11 of 16 negative against 24% before, p = 0.0002",
    )

    listed = env.json("alerts")
    assert [a["id"] for a in listed] == [second, first]  # newest first
    assert all(set(a) == ALERT_KEYS for a in listed)
    assert all(set(d) == DELIVERY_KEYS for a in listed for d in a["deliveries"])
    surge = listed[0]
    assert (surge["kind"], surge["name"], surge["scope"], surge["level"]) == (
        "surge",
        "negative-surge",
        "source:news",
        "critical",
    )
    assert surge["reason"] == "11 of 16 negative against 24% before, p = 0.0002" and surge["documents"] == []
    [d] = surge["deliveries"]
    assert (d["notifier"], d["status"], d["attempts"], d["next_attempt_at"]) == (
        "hook",
        "pending",
        0,
        surge["created_at"],
    )  # due since it was made
    assert d["message_id"].startswith("msg_")

    # No daemon: retry tries here, once. A 404 is final.
    receiver.then(Answer(404, body=b"no such hook"))
    out = env.run("alerts", "retry", str(first), check=False)
    assert out.returncode == 1, out.stderr
    assert "hook: dead after 1 try: HTTP 404 Not Found: no such hook" in out.stdout
    assert len(receiver.snapshot()) == 1  # the other alert's delivery was due too, but is not this one's
    dead = next(a for a in env.json("alerts") if a["id"] == first)["deliveries"][0]
    assert (dead["status"], dead["attempts"], dead["last_status"], dead["next_attempt_at"]) == (
        "dead",
        1,
        404,
        None,
    )

    out = env.run("alerts", "retry", str(first))
    assert "hook: delivered" in out.stdout and "(1 try)" in out.stdout  # a fresh schedule: attempts from 0
    req = receiver.snapshot()[-1]
    event = Webhook(SECRET).verify(req.body, req.headers)
    assert event["data"]["id"] == first and req.headers["webhook-id"] == dead["message_id"]
    assert "nothing to retry" in env.run("alerts", "retry", str(first)).stdout

    env.env["COLUMNS"] = "200"  # one line per line of text
    table = env.run("alerts").stdout
    assert "negative surge in source news" in table and "11 of 16 negative against 24% before" in table
    assert "hook: delivered" in table and "hook: pending, 0 tries, next" in table

    assert [a["id"] for a in env.json("alerts", "--since", "1h")] == [second, first]
    assert env.json("alerts", "--since", "2099-01-01") == []
    assert [a["id"] for a in env.json("alerts", "--limit", "1")] == [second]
    assert json.loads(env.run("alerts", "list", "--json", "--limit", "1").stdout)[0]["id"] == second

    missing = env.run("alerts", "retry", "999", check=False)
    assert missing.returncode == 1 and "no alert with id 999" in missing.stderr
    bad = env.run("alerts", "--since", "last tuesday", check=False)
    assert bad.returncode == 2 and "neither a date" in bad.stderr

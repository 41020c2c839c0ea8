"""Standard Webhooks signatures, checked against the reference implementation (standardwebhooks)."""

from __future__ import annotations

import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from workflowd.alerts.signing import secret_key, signature, webhook_headers
from workflowd.errors import ConfigError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_the_published_test_vector() -> None:
    # The example of the Standard Webhooks specification and its reference libraries.
    sig = signature(secret_key(SECRET), "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_headers_verify_with_the_reference_code() -> None:
    body = '{"type": "workflowd.alert.rule", "data": {"message": "caf\u00e9 \u2192 ok"}}'.encode()
    headers = webhook_headers("msg_1", int(time.time()), body, SECRET)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(SECRET).verify(body, headers)["data"]["message"] == "caf\u00e9 \u2192 ok"
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"ok", b"OK"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, {**headers, "webhook-id": "msg_2"})


def test_a_secret_without_the_prefix_is_its_utf8_bytes() -> None:
    body = b'{"a": 1}'
    headers = webhook_headers("msg_x", int(time.time()), body, "correct horse b\u00e4ttery")
    Webhook("correct horse b\u00e4ttery".encode()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body, headers)


def test_unpadded_base64_is_accepted_and_a_broken_one_is_a_clear_error() -> None:
    assert secret_key("whsec_YWJj") == b"abc"
    assert secret_key("whsec_YWI") == b"ab"  # padding left out, as the reference accepts
    with pytest.raises(ConfigError, match="not base64"):
        secret_key("whsec_not base64!")
    with pytest.raises(ConfigError, match="empty"):
        secret_key("whsec_")


def test_no_secret_no_signature() -> None:
    headers = webhook_headers("msg_1", 1700000000, b"{}", None)
    assert headers == {"webhook-id": "msg_1", "webhook-timestamp": "1700000000"}

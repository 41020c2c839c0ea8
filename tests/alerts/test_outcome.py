"""How an HTTP answer maps to delivered, retry (with Retry-After) or dead."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from workflowd.alerts.outcome import from_error, from_response, retry_after

NOW = 1_800_000_000.0


def outcome(status: int, headers: dict[str, str] | None = None, body: bytes = b""):
    return from_response(httpx.Response(status, headers=headers or {}), body, now=NOW, max_retry_after=3600)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert outcome(status).result == "delivered"


@pytest.mark.parametrize("status", [301, 302, 307, 308, 408, 429, 500, 502, 503, 504])
def test_redirects_408_429_and_5xx_are_retried(status: int) -> None:
    o = outcome(status)
    assert (o.result, o.status, o.disable) == ("retry", status, False)
    assert o.error.startswith(f"HTTP {status}")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 413, 422])
def test_other_4xx_are_dead_with_the_status_and_an_excerpt(status: int) -> None:
    o = outcome(status, body=b"  no such\n  hook " + b"x" * 500)
    assert o.result == "dead" and not o.disable
    assert o.error.startswith(f"HTTP {status}") and "no such hook xxx" in o.error
    assert len(o.error) < 260


def test_410_disables_the_endpoint() -> None:
    o = outcome(410)
    assert (o.result, o.disable) == ("dead", True)
    assert "410" in o.error and "disabled" in o.error


def test_retry_after_seconds_date_cap_and_nonsense() -> None:
    assert outcome(503, {"Retry-After": "120"}).retry_after == 120
    when = format_datetime(datetime.fromtimestamp(NOW + 90, UTC), usegmt=True)
    assert outcome(429, {"Retry-After": when}).retry_after == pytest.approx(90)
    assert outcome(503, {"Retry-After": "999999"}).retry_after == 3600
    assert outcome(503, {"Retry-After": "soon"}).retry_after is None
    past = format_datetime(datetime.fromtimestamp(NOW - 90, UTC), usegmt=True)
    assert retry_after(past, now=NOW, cap=10) == 0
    assert retry_after(None, now=NOW, cap=10) is None


def test_network_errors_are_retried_and_say_what_happened() -> None:
    assert (
        from_error(httpx.ConnectError("[Errno 111] Connection refused")).error
        == "connection failed: [Errno 111] Connection refused"
    )
    assert from_error(httpx.ReadTimeout("timed out")).error.startswith("timed out")
    o = from_error(httpx.RemoteProtocolError("Server disconnected"))
    assert (o.result, o.error) == ("retry", "network error: Server disconnected")

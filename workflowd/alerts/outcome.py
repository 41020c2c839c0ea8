"""What one try of a delivery came to, and how an HTTP answer or a network error maps to it.

Standard Webhooks' rules: 2xx is delivered; 3xx (redirects are not followed), 408, 429 and
5xx are tried again, honouring Retry-After; 410 Gone disables the endpoint; any other 4xx is
permanent (dead, with the status and the start of the answer).
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # httpx is imported when the first delivery is tried, not by every command
    import httpx

EXCERPT_CHARS = 200

Result = Literal["delivered", "retry", "dead"]


@dataclass(frozen=True)
class Outcome:
    result: Result
    status: int | None = None  # the HTTP status, when there was an answer
    error: str | None = None  # why it was not delivered: for `workflowd alerts` and the log
    retry_after: float | None = None  # seconds the receiver asked us to wait (already capped)
    disable: bool = False  # 410 Gone: no more deliveries to this endpoint


def from_response(response: httpx.Response, start: bytes, *, now: float, max_retry_after: float) -> Outcome:
    """The outcome of an HTTP answer whose body begins with ``start``; ``now`` (unix time) turns a
    Retry-After date into seconds."""
    status = response.status_code
    if 200 <= status < 300:
        return Outcome("delivered", status)
    reason = f"HTTP {status} {response.reason_phrase}".rstrip()
    excerpt = " ".join(start.decode("utf-8", "replace").split())[:EXCERPT_CHARS]
    if excerpt:
        reason += f": {excerpt}"
    if status == 410:
        return Outcome(
            "dead",
            status,
            f"{reason} (endpoint disabled until `workflowd alerts retry` or a new URL)",
            disable=True,
        )
    if 300 <= status < 400 or status in (408, 429) or status >= 500:
        wait = retry_after(response.headers.get("retry-after"), now=now, cap=max_retry_after)
        return Outcome(
            "retry", status, reason if wait is None else f"{reason} (Retry-After {wait:.0f} s)", wait
        )
    return Outcome("dead", status, reason)


def from_error(exc: Exception) -> Outcome:
    """A refused connection, a time-out or another network error: tried again."""
    import httpx

    kind = {httpx.ConnectError: "connection failed", httpx.TimeoutException: "timed out"}
    what = next((k for cls, k in kind.items() if isinstance(exc, cls)), "network error")
    detail = str(exc).strip()
    return Outcome("retry", None, f"{what}: {detail}" if detail else what)


def retry_after(value: str | None, *, now: float, cap: float) -> float | None:
    """Retry-After in seconds (a number of seconds or an HTTP date), at least 0 and at most ``cap``."""
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        wait = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None or when.tzinfo is None:
            return None
        wait = when.timestamp() - now
    return min(max(wait, 0.0), cap)

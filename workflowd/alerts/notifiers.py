"""The notifiers: one try of one delivery to a webhook, an ntfy topic or Apprise, as an Outcome.

A notifier raises ConfigError when its secret cannot be read (the delivery is tried again: the
owner may set it); every other failure is an Outcome. Secrets are read here, at each try, and
never put in an error text.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.header import Header
from typing import TYPE_CHECKING, Any

from .outcome import Outcome, from_error, from_response
from .settings import AppriseNotifier, DeliverySettings, NtfyNotifier, WebhookNotifier
from .signing import webhook_headers

if TYPE_CHECKING:
    import httpx

READ_AT_MOST = 4096  # bytes of an answer read: enough for an error excerpt

NTFY_PRIORITY = {"info": "default", "warning": "high", "critical": "urgent"}  # when the notifier sets none
APPRISE_TYPE = {"info": "info", "warning": "warning", "critical": "failure"}


@dataclass(frozen=True)
class Message:
    """One delivery as the outbox holds it: the same id and body on every try."""

    notifier: str
    message_id: str
    body: str  # the JSON event ``{type, timestamp, data}``

    @property
    def data(self) -> dict[str, Any]:
        return dict(json.loads(self.body).get("data") or {})


@dataclass(frozen=True)
class Context:
    """What a try needs besides the message: the HTTP client, the delivery settings and the time."""

    client: httpx.Client
    delivery: DeliverySettings
    now: float  # unix time (Retry-After dates are measured from it)


def endpoint(conf: Any) -> str | None:
    """The URL a 410 Gone disables, for the notifiers that have one."""
    return getattr(conf, "url", None) if isinstance(conf, WebhookNotifier | NtfyNotifier) else None


def send(conf: Any, message: Message, ctx: Context) -> Outcome:
    """Try one delivery with the notifier ``conf``; raises ConfigError when its secret is missing."""
    sender = SENDERS.get(type(conf))
    if sender is None:
        return Outcome("dead", error=f"notifier {message.notifier}: unknown notifier type {conf.type!r}")
    return sender(conf, message, ctx)


def send_webhook(conf: WebhookNotifier, message: Message, ctx: Context) -> Outcome:
    """POST the stored body as JSON with the Standard Webhooks headers (signed when a secret is set)."""
    body = message.body.encode("utf-8")
    secret = conf.secret(message.notifier)
    signed = webhook_headers(message.message_id, int(time.time()), body, secret)
    ours = {"content-type": "application/json", **signed}
    headers = {k: v for k, v in conf.headers.items() if k.lower() not in ours} | ours
    return _post(ctx, conf.url, body, headers, conf.timeout)


def send_ntfy(conf: NtfyNotifier, message: Message, ctx: Context) -> Outcome:
    """Publish the alert's message (and its reason) to the topic, with ntfy's Title, Priority and Tags."""
    data = message.data
    text = "\n".join(str(data[k]) for k in ("message", "reason") if data.get(k))
    headers = {
        "Title": _header_text(f"workflowd: {data.get('name') or data.get('kind') or 'alert'}"),
        "Priority": str(conf.priority or NTFY_PRIORITY.get(str(data.get("level")), "default")),
        "Content-Type": "text/plain; charset=utf-8",
    }
    if conf.tags:
        headers["Tags"] = _header_text(",".join(conf.tags))
    token = conf.token(message.notifier)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return _post(ctx, conf.url, (text or "workflowd alert").encode("utf-8"), headers, conf.timeout)


def send_apprise(conf: AppriseNotifier, message: Message, ctx: Context) -> Outcome:
    """Notify every Apprise URL; Apprise says only whether all of them took it, so a failure is retried."""
    try:
        import apprise
    except ImportError:
        return Outcome(
            "dead",
            error="Apprise is not installed: install workflowd[apprise] "
            "(pip install 'workflowd[apprise]'), then `workflowd alerts retry ID`",
        )
    urls = conf.all_urls(message.notifier)
    sender = apprise.Apprise()
    bad = sum(not sender.add(url) for url in urls)
    if bad or not urls:
        return Outcome(
            "dead",
            error=f"notifier {message.notifier}: {bad} of {len(urls)} Apprise URL(s) "
            "are not valid (see `apprise --details` for the services and their URLs)",
        )
    data = message.data
    ok = sender.notify(
        body="\n".join(str(data[k]) for k in ("message", "reason") if data.get(k)) or "workflowd alert",
        title=f"workflowd: {data.get('name') or data.get('kind') or 'alert'}",
        notify_type=APPRISE_TYPE.get(str(data.get("level")), "info"),
    )
    return (
        Outcome("delivered")
        if ok
        else Outcome(
            "retry", error="Apprise could not notify every service (its log line says which and why)"
        )
    )


SENDERS: dict[type, Callable[[Any, Message, Context], Outcome]] = {
    WebhookNotifier: send_webhook,
    NtfyNotifier: send_ntfy,
    AppriseNotifier: send_apprise,
}


def _post(ctx: Context, url: str, body: bytes, headers: dict[str, str], timeout: float | None) -> Outcome:
    import httpx

    try:
        with ctx.client.stream(
            "POST",
            url,
            content=body,
            headers=headers,
            follow_redirects=False,
            timeout=timeout or ctx.delivery.timeout,
        ) as response:
            start = b""
            for chunk in response.iter_bytes():
                start += chunk
                if len(start) >= READ_AT_MOST:
                    break
    except httpx.HTTPError as exc:
        return from_error(exc)
    except UnicodeEncodeError:  # a custom header that HTTP cannot carry: no try will do better
        return Outcome("dead", error="a header of this notifier is not plain ASCII/Latin-1 text")
    return from_response(response, start, now=ctx.now, max_retry_after=ctx.delivery.max_retry_after)


def _header_text(text: str) -> str:
    """Text for a header: as it is when ASCII, else an RFC 2047 encoded word (ntfy decodes those)."""
    text = " ".join(text.split())
    return text if text.isascii() else Header(text, "utf-8").encode()

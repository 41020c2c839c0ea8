"""Sending what waits in the outbox: a pass over the due deliveries (``Deliverer.loop``, which
tests call with their own ``now``) and the daemon's thread that runs passes.

Each delivery is claimed with a lease, sent, then marked delivered, rescheduled after
``retry_delays[attempts - 1]`` give or take ``jitter`` (later if the receiver's Retry-After
says so), or dead when the delays run out or the failure is permanent. All the state is in
the outbox, so a restart carries on where the last process stopped. The thread sleeps until
``OUTBOX_CHANGED`` is set or the next delivery is due: no CPU while nothing is pending.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..store import Store
from .make import OUTBOX_CHANGED
from .notifiers import Context, Message, endpoint, send
from .outcome import Outcome

if TYPE_CHECKING:
    import httpx

    from ..config import Settings

log = logging.getLogger("workflowd.delivery")

LEASE_FLOOR_S = 60.0  # a sender holds a delivery at least this long (Apprise has no single time-out)
PASS_LIMIT = 50  # deliveries tried in one pass by default
MAX_SLEEP_S = 3600.0  # while something is pending, wake at least hourly (the wall clock may have jumped)
ERROR_BACKOFF_S = 5.0


class Deliverer:
    """Tries due deliveries one by one; ``settings`` is a callable so that a reloaded config is used."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        store: Store,
        *,
        client: httpx.Client | None = None,
        rng: Callable[[], float] = random.random,
    ):
        self.settings = settings
        self.store = store
        self._client = client
        self.rng = rng

    @property
    def client(self) -> httpx.Client:
        """One client for every try (made at the first: it costs an SSL context)."""
        if self._client is None:
            import httpx

            self._client = httpx.Client(follow_redirects=False)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def loop(
        self,
        now: float | None = None,
        *,
        limit: int = PASS_LIMIT,
        until: float | None = None,
        alert_id: int | None = None,
    ) -> int:
        """Try each due delivery (of one alert, if given) once, at most ``limit`` of them, and start
        none after the monotonic time ``until``; returns how many were tried."""
        tried = 0
        while tried < limit and (until is None or time.monotonic() < until):
            at = time.time() if now is None else now
            row = self.store.outbox.claim(now=at, lease_s=self._lease_s(), alert_id=alert_id)
            if row is None:
                break
            tried += 1
            self._deliver(row, now)
        return tried

    def next_due(self) -> float | None:
        """When the next pending delivery may be tried (unix time), or None."""
        return self.store.outbox.next_due()

    def _lease_s(self) -> float:
        settings = self.settings()
        longest = max(
            [settings.delivery.timeout]
            + [t for c in settings.notifiers.values() if (t := getattr(c, "timeout", None))]
        )
        return max(LEASE_FLOOR_S, 3 * longest)  # connect, write and read may each take a time-out

    def _deliver(self, row: dict, now: float | None) -> None:
        """Send one claimed delivery and record the outcome; ``now`` None: the real time, read after
        the try too, so that a retry's wait counts from its end."""
        settings = self.settings()
        name = row["notifier"]
        conf = settings.notifiers.get(name)
        url = endpoint(conf) if conf is not None else None
        off = self.store.outbox.disabled(name, url) if url else None
        try:
            if conf is None:
                outcome = Outcome(
                    "dead",
                    error=f"notifier {name!r} is no longer in the config (add it again, "
                    "then `workflowd alerts retry ID`)",
                )
            elif off is not None:
                outcome = Outcome(
                    "dead", error=f"endpoint disabled since {off['created_at']}: {off['reason']}"
                )
            else:
                message = Message(name, row["message_id"], row["body"])
                outcome = send(conf, message, Context(self.client, settings.delivery, _now(now)))
        except ConfigError as exc:  # a secret not set (yet): the owner may still set it
            outcome = Outcome("retry", error=str(exc))
        except Exception as exc:  # a bug or a library's surprise costs this try, never the loop
            log.exception(
                "delivery %d of alert %d to %s failed unexpectedly", row["id"], row["alert_id"], name
            )
            outcome = Outcome("retry", error=f"unexpected error: {type(exc).__name__}: {exc}")
        self._record(row, outcome, _now(now), url)

    def _record(self, row: dict, outcome: Outcome, now: float, url: str | None) -> None:
        outbox, delays = self.store.outbox, self.settings().delivery
        what = f"alert {row['alert_id']} to {row['notifier']} (try {row['attempts']})"
        if outcome.disable and url:
            outbox.disable(row["notifier"], url, outcome.error or "410 Gone")
        lease = row["lease_until"]
        if outcome.result == "delivered":
            kept = outbox.delivered(row["id"], lease, status=outcome.status)
            log.info("delivered %s", what)
        elif outcome.result == "retry" and row["attempts"] <= len(delays.retry_delays):
            wait = delays.retry_delays[row["attempts"] - 1] * (1 + delays.jitter * (2 * self.rng() - 1))
            if outcome.retry_after is not None:
                wait = max(wait, outcome.retry_after)  # Retry-After can delay a try, never hasten it
            kept = outbox.retry_at(
                row["id"], lease, at=now + wait, status=outcome.status, error=outcome.error
            )
            log.warning("could not deliver %s: %s; trying again in %.0f s", what, outcome.error, wait)
        else:
            error = (
                outcome.error
                if outcome.result == "dead"
                else f"gave up after {row['attempts']} tries: {outcome.error}"
            )
            kept = outbox.dead(row["id"], lease, status=outcome.status, error=error)
            log.error("delivery of %s is dead: %s", what, error)
        if not kept:
            log.warning(
                "the lease on delivery %d ran out during its try and another sender took it: "
                "this outcome is not recorded",
                row["id"],
            )


def deliver_due(
    settings: Settings, store: Store, *, budget_s: float | None = None, alert_id: int | None = None
) -> int:
    """One bounded pass, for a process without a delivery thread (``workflowd ingest``): each due
    delivery (of one alert, if given) is tried once, none started after ``budget_s`` (default: the
    delivery time-out)."""
    deliverer = Deliverer(lambda: settings, store)
    try:
        budget = settings.delivery.timeout if budget_s is None else budget_s
        return deliverer.loop(until=time.monotonic() + budget, alert_id=alert_id)
    finally:
        deliverer.close()


def _now(now: float | None) -> float:
    return time.time() if now is None else now


class DeliveryThread(threading.Thread):
    """The daemon's sender: passes over the outbox until stopped, asleep in between."""

    def __init__(self, settings: Callable[[], Settings], on_exit: Callable[[], None] | None = None):
        super().__init__(name="workflowd-delivery", daemon=True)
        self.settings = settings
        self.on_exit = on_exit  # called when the thread ends, however it ends
        self._stopping = threading.Event()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        self._stopping.set()
        OUTBOX_CHANGED.set()

    def run(self) -> None:
        try:
            self._serve()
        finally:
            if self.on_exit is not None:
                self.on_exit()

    def _serve(self) -> None:
        store = Store(self.settings().db_path)
        deliverer = Deliverer(self.settings, store)
        try:
            while not self._stopping.is_set():
                OUTBOX_CHANGED.clear()  # before the pass: a row written during it wakes the next wait
                try:
                    while not self._stopping.is_set() and deliverer.loop(limit=1):
                        pass  # one at a time, so that a stop waits for one try at most
                    due = deliverer.next_due()
                    timeout = None if due is None else min(max(0.0, due - time.time()), MAX_SLEEP_S)
                except Exception:  # the store failed (disk full...): log it, wait, try again
                    log.exception("error in the delivery thread; retrying in %.0f s", ERROR_BACKOFF_S)
                    timeout = ERROR_BACKOFF_S
                if not self._stopping.is_set():
                    OUTBOX_CHANGED.wait(timeout)
        finally:
            deliverer.close()
            store.close()

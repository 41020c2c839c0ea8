"""Fixtures for the alerts tests: a real receiver on 127.0.0.1 and a store with notifiers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerts.receiver import Receiver
from workflowd.alerts.delivery import Deliverer
from workflowd.alerts.make import make_alert
from workflowd.config import Settings
from workflowd.store import Store

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.close()


class World:
    """A store and settings with notifiers; ``alert()`` makes one, ``deliverer()`` sends."""

    def __init__(self, tmp: Path, notifiers: dict[str, Any], **delivery: Any):
        self.settings = Settings(
            data_dir=tmp / "data",
            notifiers=notifiers,
            delivery={"timeout": 1, "retry_delays": [10, 20, 30], "jitter": 0, **delivery},
        )
        self.store = Store(self.settings.db_path)

    def alert(self, to: list[str] | None = None, **kw: Any) -> int:
        args = {
            "kind": "rule",
            "name": "negative",
            "level": "warning",
            "message": "a negative document",
            "reason": "sentiment negative (0.97)",
            "documents": [],
        } | kw
        return make_alert(self.store, self.settings, notify=to or list(self.settings.notifiers), **args)

    def deliverer(self, rng: Callable[[], float] = lambda: 0.5) -> Deliverer:
        return Deliverer(lambda: self.settings, self.store, rng=rng)

    def rows(self) -> list[dict[str, Any]]:
        return self.store.query("SELECT * FROM outbox ORDER BY id")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., World]]:
    made: list[World] = []
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)

    def make(notifiers: dict[str, Any], **delivery: Any) -> World:
        w = World(tmp_path / str(len(made)), notifiers, **delivery)
        made.append(w)
        return w

    yield make
    for w in made:
        w.store.close()

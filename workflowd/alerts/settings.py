"""The ``[[surges]]``, ``[notifiers.NAME]`` and ``[delivery]`` tables of the config."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .. import paths
from ..errors import ConfigError
from ..tagged import type_union


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def seconds(value: Any) -> float:
    """A duration: a number of seconds, or text such as "90s", "15m", "6h", "2d", "1h30m"."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().lower().replace(" ", "")
    parts = re.fullmatch(r"((\d+(\.\d+)?)[smhd])+", text)
    if not parts:
        raise ValueError(f"{value!r} is not a duration: write seconds, or e.g. \"90s\", \"15m\", \"6h\", \"2d\"")
    return float(sum(float(n) * _UNITS[u] for n, _, u in re.findall(r"(\d+(\.\d+)?)([smhd])", text)))


class _Secret:
    """A secret from an environment variable or a file, read when it is used (never logged)."""

    def _read_secret(self, what: str, env: str | None, file: Path | None) -> str | None:
        if env is not None:
            value = os.environ.get(env)
            if not value:
                raise ConfigError(f"{what}: environment variable {env} is not set")
            return value
        if file is not None:
            try:
                return file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"{what}: cannot read {file}: {exc.strerror}") from None
        return None


class WebhookNotifier(_Strict, _Secret):
    """POST ``{type, timestamp, data}`` as JSON, signed as Standard Webhooks say."""

    type: Literal["webhook"]
    url: str
    secret_env: str | None = None  # the signing secret (whsec_... or any text): a variable's name
    secret_file: Path | None = None  # ... or a file holding it
    headers: dict[str, str] = Field(default_factory=dict)  # sent with every delivery
    timeout: float | None = Field(None, gt=0)  # seconds; default: [delivery] timeout

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        return _http_url(v)

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookNotifier:
        if self.secret_env is not None and self.secret_file is not None:
            raise ValueError("set at most one of secret_env and secret_file")
        return self

    def secret(self, name: str) -> str | None:
        return self._read_secret(f"notifier {name}", self.secret_env, self.secret_file)


class NtfyNotifier(_Strict, _Secret):
    """Publish to an ntfy topic (https://ntfy.sh/TOPIC or your own server), with title, priority and tags."""

    type: Literal["ntfy"]
    url: str  # the topic's URL
    priority: Literal["min", "low", "default", "high", "max", "urgent", 1, 2, 3, 4, 5] | None = None
    tags: list[str] = Field(default_factory=list)  # ntfy tags (emoji short codes work)
    token_env: str | None = None  # an access token: a variable's name
    token_file: Path | None = None
    timeout: float | None = Field(None, gt=0)

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        return _http_url(v)

    def token(self, name: str) -> str | None:
        return self._read_secret(f"notifier {name}", self.token_env, self.token_file)


class AppriseNotifier(_Strict, _Secret):
    """Any service Apprise knows (mail, Matrix, Telegram, Slack...): ``pip install 'workflowd[apprise]'``."""

    type: Literal["apprise"]
    urls: list[str] = Field(default_factory=list)  # Apprise URLs; they often hold a secret: prefer urls_env
    urls_env: str | None = None  # a variable holding URLs, separated by spaces or commas
    urls_file: Path | None = None  # a file with one URL per line

    @model_validator(mode="after")
    def _some_url(self) -> AppriseNotifier:
        if not self.urls and self.urls_env is None and self.urls_file is None:
            raise ValueError("give urls, urls_env or urls_file")
        return self

    def all_urls(self, name: str) -> list[str]:
        extra = self._read_secret(f"notifier {name}", self.urls_env, None) if self.urls_env else None
        from_file = self._read_secret(f"notifier {name}", None, self.urls_file) if self.urls_file else None
        more = re.split(r"[\s,]+", extra or "") + (from_file or "").splitlines()
        return [*self.urls, *(u.strip() for u in more if u.strip())]


NOTIFIER_MODELS: dict[str, type[BaseModel]] = {
    "webhook": WebhookNotifier,
    "ntfy": NtfyNotifier,
    "apprise": AppriseNotifier,
}


NotifierSettings = type_union(NOTIFIER_MODELS, what="notifier")


# Standard Webhooks' schedule, stretched to about three days: the try after each failure waits this long.
DEFAULT_RETRY_DELAYS = [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0, 43200.0, 43200.0, 43200.0, 43200.0]


class DeliverySettings(_Strict):
    timeout: float = Field(10.0, gt=0, description="seconds one delivery may take (connect and answer)")
    retry_delays: list[float] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_DELAYS), min_length=1,
        description="seconds (or durations) before each retry after a failure; when they run out, the "
        "delivery is dead",
    )
    jitter: float = Field(0.2, ge=0.0, le=1.0, description="each delay is changed at random by up to this share")
    max_retry_after: float = Field(
        86400.0, ge=0, description="a Retry-After longer than this many seconds is cut to it"
    )

    @field_validator("retry_delays", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> Any:
        return [seconds(x) for x in v] if isinstance(v, list) else v

    @field_validator("max_retry_after", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return seconds(v)


class SurgeSettings(_Strict):
    """Alert when the share of ``sentiment`` documents in the last ``window`` documents of a scope is
    well above its share in the ``baseline`` documents before them (one-sided binomial test)."""

    name: str = Field(min_length=1)
    sentiment: Literal["negative", "neutral", "positive"] = "negative"  # the sentiment label counted
    scope: Literal["all", "source", "label", "tag"] = "all"  # one watch in all, or one per source/label/tag
    only: list[str] = Field(default_factory=list)  # with a scope other than all: only these sources/labels/tags
    window: int = Field(20, ge=3)
    baseline: int = Field(200, ge=10)
    min_count: int = Field(5, ge=1)
    factor: float = Field(1.5, ge=1.0)
    alpha: float = Field(0.001, gt=0.0, lt=1.0)
    cooldown: float = Field(6 * 3600.0, ge=0)  # seconds, or "6h"
    duplicates: float = Field(
        0.95, gt=0.0, le=1.0,
        description="documents whose embeddings are at least this similar count once (one story, many copies); 1: exact only",
    )
    attachments: bool = False  # count attachments too (by default a mail counts once, by its own text)
    level: Literal["info", "warning", "critical"] = "warning"
    notify: list[str] = Field(default_factory=list)

    @field_validator("cooldown", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return seconds(v)

    @field_validator("only", "notify", mode="before")
    @classmethod
    def _listed(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _sane(self) -> SurgeSettings:
        if self.min_count > self.window:
            raise ValueError(f"min_count ({self.min_count}) is more than window ({self.window})")
        if self.only and self.scope == "all":
            raise ValueError('only needs a scope: "source", "label" or "tag"')
        return self


def _http_url(v: str) -> str:
    if not re.match(r"^https?://[^/\s]+", v):
        raise ValueError(f"{v!r} is not an http:// or https:// URL")
    return v


def resolve_notifier_paths(notifiers: dict[str, Any], base: Path) -> None:
    for conf in notifiers.values():
        for key in ("secret_file", "token_file", "urls_file"):
            value = getattr(conf, key, None)
            if value is not None:
                setattr(conf, key, paths.expand(value, base))

"""Points in time as people write them: an ISO date or time, or a duration back from now."""

from __future__ import annotations

from datetime import UTC, datetime

from .alerts.settings import seconds


def since_moment(text: str) -> str:
    """``2026-11-30``, ``2026-11-30T08:00`` (local time unless it says) or ``7d``, ``2h``, ``90m``
    (back from now), as the store's UTC time text. ValueError with what is expected."""
    try:
        moment = datetime.fromtimestamp(datetime.now(UTC).timestamp() - seconds(text), UTC)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError(
                f"{text!r} is neither a date (2026-11-30, 2026-11-30T08:00) nor a duration (90m, 2h, 7d)"
            ) from None
        moment = (moment if moment.tzinfo else moment.astimezone()).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

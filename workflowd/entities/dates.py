"""Dates written in text, normalised to ISO 8601.

Recognised: ISO dates (2024-03-01, with an optional time), numeric dates (01/03/2024,
1.3.24: day first unless the numbers say otherwise or ``day_first`` is off), day-month-year
and month-day-year with English, German or French month names (1 March 2024, 1st of March
2024, March 1, 2024, 1. März 2024), the e-mail form with weekday, time and zone
(Mon, 19 Aug 2002 13:23:09 +0100) and month-year (March 2024 -> 2024-03). Impossible dates
(31 February) are not dates.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

MONTHS = {
    # English
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sep": 9,
    "sept": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
    # German
    "januar": 1,
    "jänner": 1,
    "februar": 2,
    "märz": 3,
    "maerz": 3,
    "mai": 5,
    "juni": 6,
    "juli": 7,
    "oktober": 10,
    "okt": 10,
    "dezember": 12,
    "dez": 12,
    # French
    "janvier": 1,
    "février": 2,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "juin": 6,
    "juillet": 7,
    "août": 8,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "décembre": 12,
    "decembre": 12,
}
_MONTH = "(?P<month>" + "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True)) + r")\.?"
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_TIME = (
    r"(?:,?\s+(?:at\s+)?(?P<hh>\d{1,2}):(?P<mi>\d{2})(?::(?P<ss>\d{2}))?(?:\s*(?P<tz>[+-]\d{4}|UTC|GMT|Z))?)?"
)
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?\.?"
_YEAR = r"(?P<year>\d{4})"

_PATTERNS = [
    (
        "iso",
        re.compile(
            r"(?<![\d-])(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
            r"(?:[T ](?P<hh>\d{1,2}):(?P<mi>\d{2})(?::(?P<ss>\d{2}))?(?P<tz>Z|[+-]\d{2}:?\d{2})?)?(?![\d-])"
        ),
    ),
    ("dmy", re.compile(rf"(?<!\w){_WEEKDAY}{_DAY}(?:\s+of)?\s+{_MONTH},?\s+{_YEAR}{_TIME}(?!\w)", re.I)),
    ("mdy", re.compile(rf"(?<!\w){_WEEKDAY}{_MONTH}\s+{_DAY},?\s+{_YEAR}{_TIME}(?!\w)", re.I)),
    (
        "numeric",
        re.compile(
            r"(?<![\d./-])(?P<a>\d{1,2})(?P<sep>[./-])(?P<b>\d{1,2})(?P=sep)(?P<year>\d{4}|\d{2})(?![\d./-]|\.\d)"
        ),
    ),
    ("my", re.compile(rf"(?<!\w){_MONTH}\s+{_YEAR}(?!\w)", re.I)),
]


@dataclass(frozen=True)
class DateMatch:
    start: int
    end: int
    text: str
    value: str  # ISO 8601: 2024-03-01, 2024-03-01T13:23:09+01:00, or 2024-03


def find_dates(text: str, *, day_first: bool = True) -> Iterator[DateMatch]:
    """Every date in ``text``; overlapping matches are left to the caller to resolve."""
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            value = _normalise(kind, m, day_first)
            if value is not None:
                yield DateMatch(m.start(), m.end(), m.group(0), value)


def _year(text: str) -> int:
    y = int(text)
    if len(text) == 2:
        y += 2000 if y < 70 else 1900
    return y


def _normalise(kind: str, m: re.Match[str], day_first: bool) -> str | None:
    g = m.groupdict()
    try:
        if kind == "my":
            if not g["month"][0].isupper():  # "you may 2000 times" is not May 2000
                return None
            if re.search(
                r"\d(?:st|nd|rd|th)?\.?\s+(?:of\s+)?$", m.string[max(0, m.start() - 12) : m.start()]
            ):
                return None  # the rest of an impossible date ("31 February 2024")
            year = _year(g["year"])
            return f"{year:04d}-{MONTHS[g['month'].lower()]:02d}" if 1900 <= year <= 2200 else None
        if kind == "numeric":
            a, b, year = int(g["a"]), int(g["b"]), _year(g["year"])
            if a > 12 or (day_first and b <= 12):
                day, month = a, b
            else:
                month, day = a, b
            d = date(year, month, day)
        else:
            month = int(g["month"]) if kind == "iso" else MONTHS[g["month"].lower()]
            d = date(_year(g["year"]), month, int(g["day"]))
    except (ValueError, KeyError):
        return None
    if not 1900 <= d.year <= 2200:
        return None
    if not g.get("hh"):
        return d.isoformat()
    try:
        dt = datetime(d.year, d.month, d.day, int(g["hh"]), int(g["mi"]), int(g["ss"] or 0))
    except ValueError:
        return d.isoformat()
    tz = g.get("tz")
    if tz in ("Z", "UTC", "GMT"):
        dt = dt.replace(tzinfo=timezone.utc)
    elif tz:
        digits = tz.replace(":", "")
        offset = timedelta(hours=int(digits[1:3]), minutes=int(digits[3:5]))
        dt = dt.replace(tzinfo=timezone(offset if digits[0] == "+" else -offset))
    return dt.isoformat()

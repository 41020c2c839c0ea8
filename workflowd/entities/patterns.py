"""Pattern entities: what personal documents need besides names, found by rules and checked.

| type  | value                                   | how                                                  |
|-------|-----------------------------------------|------------------------------------------------------|
| DATE  | ISO 8601 (``2024-03-01``)               | dates.py                                             |
| MONEY | ``{"amount": "1234.50", "currency": "EUR"}`` | symbol or ISO code before or after an amount     |
| EMAIL | the address, domain lower-cased         | regular expression                                   |
| URL   | the URL                                 | ``http(s)://`` or ``www.``, trailing punctuation cut |
| PHONE | E.164 (``+33472421732``)                | phonenumbers (libphonenumber): only valid numbers    |
| IBAN  | compact form                            | python-stdnum: country format and mod-97 checksum   |

Where matches overlap, the more specific type wins (an e-mail address inside a URL is part
of the URL; a date is not a phone number), then the longer match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from stdnum import iban as stdnum_iban

from .dates import find_dates

PATTERN_TYPES = ("EMAIL", "URL", "IBAN", "MONEY", "DATE", "PHONE")
_PRIORITY = {t: i for i, t in enumerate(PATTERN_TYPES)}


@dataclass(frozen=True)
class Entity:
    type: str
    start: int  # character offsets into the document text: text[start:end] == self.text
    end: int
    text: str
    confidence: float = 1.0
    value: Any = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        out = {
            "type": self.type,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "confidence": round(self.confidence, 4),
        }
        if self.value is not None:
            out["value"] = self.value
        return out


_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b"
)
_URL = re.compile(r"(?<![\w@.])(?:https?://|www\.)[^\s<>\"'`\[\]{}|\\^]+", re.I)
_URL_TRAIL = ".,;:!?'\")]}>*"
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])")

_CURRENCY_SYMBOLS = {"$": "USD", "US$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "CHF": "CHF", "Fr.": "CHF"}
_CURRENCY_WORDS = {
    "euro": "EUR",
    "euros": "EUR",
    "dollar": "USD",
    "dollars": "USD",
    "pound": "GBP",
    "pounds": "GBP",
    "francs": "CHF",
}
_ISO_CODES = (
    "USD",
    "EUR",
    "GBP",
    "CHF",
    "JPY",
    "CAD",
    "AUD",
    "NZD",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "HUF",
    "CNY",
    "INR",
    "BRL",
    "MXN",
    "ZAR",
    "SGD",
    "HKD",
)
_AMOUNT = r"(?P<amount>\d{1,3}(?:[,.'\u2009\u202f ]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
_SCALE = r"(?:\s?(?P<scale>million|billion|thousand|mn|bn|m|k)\b)?"
_SYMBOL = "|".join(re.escape(s) for s in sorted(_CURRENCY_SYMBOLS, key=len, reverse=True))
_CODES = "|".join(_ISO_CODES)
_MONEY_BEFORE = re.compile(rf"(?P<cur>{_SYMBOL}|\b(?:{_CODES})\b)\s?{_AMOUNT}{_SCALE}")
_MONEY_AFTER = re.compile(
    rf"(?<![\w.,]){_AMOUNT}{_SCALE}\s?(?P<cur>[€£$¥]|\b(?:{_CODES})\b|\b(?:{'|'.join(_CURRENCY_WORDS)})\b)",
    re.I,
)
_SCALES = {
    "thousand": 1000,
    "k": 1000,
    "million": 10**6,
    "mn": 10**6,
    "m": 10**6,
    "billion": 10**9,
    "bn": 10**9,
}


def find_pattern_entities(
    text: str,
    *,
    types: tuple[str, ...] = PATTERN_TYPES,
    phone_region: str | None = None,
    day_first: bool = True,
) -> list[Entity]:
    """Pattern entities in ``text``, in text order, without overlaps.

    ``phone_region`` (e.g. "US", "DE") also accepts national numbers of that country;
    without it only international numbers (+...) are phone numbers.
    """
    found: list[Entity] = []
    if "EMAIL" in types:
        found += [_email(m) for m in _EMAIL.finditer(text)]
    if "URL" in types:
        found += [e for m in _URL.finditer(text) if (e := _url(m)) is not None]
    if "IBAN" in types:
        found += [e for m in _IBAN.finditer(text) if (e := _iban(m)) is not None]
    if "MONEY" in types:
        found += [
            e
            for pattern in (_MONEY_BEFORE, _MONEY_AFTER)
            for m in pattern.finditer(text)
            if (e := _money(m)) is not None
        ]
    if "DATE" in types:
        found += [
            Entity("DATE", d.start, d.end, d.text, value=d.value)
            for d in find_dates(text, day_first=day_first)
        ]
    if "PHONE" in types:
        found += _phones(text, phone_region)
    return _without_overlaps(found)


def _without_overlaps(entities: list[Entity]) -> list[Entity]:
    chosen: list[Entity] = []
    taken: list[tuple[int, int]] = []
    for e in sorted(entities, key=lambda e: (_PRIORITY[e.type], -(e.end - e.start), e.start)):
        if any(e.start < end and start < e.end for start, end in taken):
            continue
        chosen.append(e)
        taken.append((e.start, e.end))
    return sorted(chosen, key=lambda e: e.start)


def _email(m: re.Match[str]) -> Entity:
    local, _, domain = m.group(0).rpartition("@")
    return Entity("EMAIL", m.start(), m.end(), m.group(0), value=f"{local}@{domain.lower()}")


def _url(m: re.Match[str]) -> Entity | None:
    text = m.group(0)
    while text and text[-1] in _URL_TRAIL:
        if text[-1] == ")" and text.count("(") >= text.count(")"):
            break  # a balanced parenthesis belongs to the URL (Wikipedia-style links)
        text = text[:-1]
    if len(text) < 8 or "." not in text:
        return None
    return Entity("URL", m.start(), m.start() + len(text), text, value=text)


def _iban(m: re.Match[str]) -> Entity | None:
    compact = stdnum_iban.compact(m.group(0))
    if not stdnum_iban.is_valid(compact):
        return None
    return Entity("IBAN", m.start(), m.end(), m.group(0), value=compact)


def _money(m: re.Match[str]) -> Entity | None:
    amount = _parse_amount(m.group("amount"))
    if amount is None:
        return None
    scale = (m.group("scale") or "").lower()
    if scale:
        amount *= _SCALES[scale]
    cur = m.group("cur")
    currency = _CURRENCY_SYMBOLS.get(cur) or _CURRENCY_WORDS.get(cur.lower()) or cur.upper()
    return Entity(
        "MONEY", m.start(), m.end(), m.group(0), value={"amount": _plain(amount), "currency": currency}
    )


def _parse_amount(text: str) -> Decimal | None:
    """1,234.56 and 1.234,56 and 1 234,56 and 12,50 and 1,250 (thousands) to a Decimal."""
    t = text.replace("'", "").replace("\u2009", "").replace("\u202f", "").replace(" ", "")
    if "," in t and "." in t:
        decimal_sep = "," if t.rfind(",") > t.rfind(".") else "."
    elif "," in t or "." in t:
        sep = "," if "," in t else "."
        head, _, tail = t.rpartition(sep)
        decimal_sep = sep if len(tail) in (1, 2) and t.count(sep) == 1 else None
    else:
        decimal_sep = None
    thousands = {",", "."} - {decimal_sep} if decimal_sep else {",", "."}
    for sep in thousands:
        t = t.replace(sep, "")
    if decimal_sep:
        t = t.replace(decimal_sep, ".")
    try:
        return Decimal(t)
    except InvalidOperation:
        return None


def _plain(amount: Decimal) -> str:
    text = format(amount, "f")
    if "." in text:
        whole, frac = text.split(".")
        return f"{whole}.{frac.ljust(2, '0')}"
    return text


def _phones(text: str, region: str | None) -> list[Entity]:
    out = []
    for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        e164 = phonenumbers.format_number(m.number, phonenumbers.PhoneNumberFormat.E164)
        out.append(Entity("PHONE", m.start, m.end, m.raw_string, value=e164))
    return out

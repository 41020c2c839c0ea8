"""Reading e-mail headers without trusting them: malformed values fall back to their raw text."""

from __future__ import annotations

import re
from email.header import decode_header, make_header
from email.message import Message
from email.utils import parsedate_to_datetime

from .textutil import clean_str

__all__ = ["header", "iso_date", "mail_meta", "header_block"]

_SURROGATES = re.compile("[\udc80-\udcff]")
_MULTIBYTE = ("big5", "gb", "hz", "shift_jis", "cp932", "euc", "cp949", "iso2022", "johab", "cp950")
_SHOWN = (("Subject", "subject"), ("From", "from"), ("To", "to"), ("Cc", "cc"), ("Date", "date_raw"))


def header(msg: Message, name: str, hint: str | None = None) -> str:
    """The decoded value of header ``name`` (first occurrence), whitespace collapsed; "" if absent.

    Raw 8-bit bytes (not allowed in headers, common in spam) are decoded as UTF-8, else in
    ``hint`` (the message's body charset), else by detection.
    """
    raw = _raw(msg, name)
    if _SURROGATES.search(raw):
        text = _decode_8bit(raw.encode("ascii", "surrogateescape"), hint)
    else:
        try:
            value = msg.get(name)
            text = "" if value is None else str(value)
        except Exception:  # the header registry chokes on some malformed values
            text = _decode_raw(raw)
    if "=?" in text:
        text = _decode_raw(text)
    return clean_str(" ".join(text.split()))


def _decode_8bit(data: bytes, hint: str | None) -> str:
    """Decode raw header bytes: UTF-8, the hint, a detected multi-byte charset, else cp1252."""
    for charset in ("utf-8", hint):
        if charset:
            try:
                return data.decode(charset)
            except (LookupError, UnicodeError):
                pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    guess = best.encoding if best is not None else ""
    if guess.startswith(_MULTIBYTE):  # single-byte guesses on a short line are mostly wrong
        return data.decode(guess, "replace")
    return data.decode("cp1252", "replace")


def _raw(msg: Message, name: str) -> str:
    """The undecoded text of the first header called ``name``."""
    try:
        for key, value in msg.raw_items():
            if key.lower() == name.lower():
                return str(value)
    except Exception:
        pass
    return ""


def _decode_raw(text: str) -> str:
    """Decode RFC 2047 encoded words where possible, else return the text unchanged."""
    try:
        return str(make_header(decode_header(text)))
    except Exception:
        return text


def iso_date(raw: str) -> str:
    """An RFC 2822 date as ISO 8601 when it parses, else the raw string."""
    if not raw:
        return ""
    try:
        return parsedate_to_datetime(raw).isoformat()
    except Exception:
        return raw


def mail_meta(msg: Message) -> dict[str, str]:
    """Subject, addresses, date, message id and in-reply-to as decoded strings."""
    hint = charset_hint(msg)
    date_raw = header(msg, "Date", hint)
    return {
        "subject": header(msg, "Subject", hint),
        "from": header(msg, "From", hint),
        "to": header(msg, "To", hint),
        "cc": header(msg, "Cc", hint),
        "date": iso_date(date_raw),
        "date_raw": date_raw,
        "message_id": header(msg, "Message-ID", hint),
        "in_reply_to": header(msg, "In-Reply-To", hint),
    }


def charset_hint(msg: Message) -> str | None:
    """The first charset declared in the message (headers with raw 8-bit bytes often use it)."""
    try:
        for part in msg.walk():
            charset = part.get_content_charset()
            if charset:
                return charset
    except Exception:
        pass
    return None


def header_block(meta: dict[str, str]) -> str:
    """The short header block that starts an e-mail's text (only the headers present)."""
    lines = [f"{label}: {meta[key]}" for label, key in _SHOWN if meta.get(key)]
    return "\n".join(lines)

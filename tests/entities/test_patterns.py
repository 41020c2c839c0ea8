"""Pattern entities on real e-mail from ../shared/data/emails, and on the edge cases rules get wrong."""

from __future__ import annotations

import email
import email.policy
import email.utils
import re
from pathlib import Path

import pytest

from tests.conftest import shared_data
from workflowd.config import ExtractSettings
from workflowd.entities import find_pattern_entities
from workflowd.extract.core import extract_file


def _ham(n: int) -> list[Path]:
    return sorted((shared_data("emails", "spamassassin", "easy_ham")).iterdir())[:n]


def _text(path: Path, tmp_path: Path) -> str:
    return extract_file(path, ExtractSettings(), tmp_path / "blobs").text


def _of(text: str, type_: str, **kw) -> list:  # noqa: ANN003
    return [e for e in find_pattern_entities(text, **kw) if e.type == type_]


def test_offsets_always_point_at_the_text(tmp_path: Path) -> None:
    for path in _ham(40):
        text = _text(path, tmp_path)
        entities = find_pattern_entities(text, phone_region="US")
        for e in entities:
            assert text[e.start : e.end] == e.text
        spans = [(e.start, e.end) for e in entities]
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:], strict=False)), "overlapping entities"


def test_every_date_header_of_real_mail_is_a_date_with_its_time_and_zone() -> None:
    checked = 0
    for path in _ham(300):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        header = " ".join(str(msg.get("Date", "")).split())
        try:
            expected = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            continue
        if expected.tzinfo is None or not re.search(r"[+-]\d{4}$", header):
            continue  # "-0000" and named zones: stdlib and we read the zone differently
        dates = _of(header, "DATE")
        assert len(dates) == 1, header
        assert dates[0].value == expected.isoformat(), header
        checked += 1
    assert checked > 200


def test_every_sender_address_of_real_mail_is_an_email_entity() -> None:
    checked = 0
    for path in _ham(300):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        _, address = email.utils.parseaddr(str(msg.get("From", "")))
        if "@" not in address or not re.fullmatch(r"[\w.+-]+@[\w-]+(\.[\w-]+)+", address):
            continue
        line = str(msg["From"])
        found = [e.text for e in _of(line, "EMAIL")]
        assert address in found, line
        checked += 1
    assert checked > 250


def test_urls_in_real_mail_start_where_they_start_and_lose_trailing_punctuation(tmp_path: Path) -> None:
    checked = 0
    for path in _ham(100):
        text = _text(path, tmp_path)
        urls = {e.start: e for e in _of(text, "URL")}
        for m in re.finditer(r"https?://", text):
            if m.start() > 0 and text[m.start() - 1] in "@.":
                continue
            e = urls.get(m.start())
            assert e is not None, text[m.start() : m.start() + 60]
            assert e.text[-1] not in ".,;:!?'\">" and len(e.text) > len(m.group(0))
            checked += 1
    assert checked > 100


def test_money_and_phones_in_real_spam(tmp_path: Path) -> None:
    spam = shared_data("emails", "spamassassin")
    text = _text(spam / "spam" / "00235.45b5f386cf62b5865d9d4440d8b78aab.eml", tmp_path)
    money = [e.value for e in _of(text, "MONEY")]
    assert {"amount": "71500000.00", "currency": "USD"} in money
    text = _text(spam / "spam_2" / "01013.c6cf4f54eda63230389baccc02702034.eml", tmp_path)
    phones = [e.value for e in _of(text, "PHONE")]
    assert "+33472421732" in phones and "+33478220000" in phones


def test_iban_is_checksum_validated_in_a_real_mail_body(tmp_path: Path) -> None:
    # No IBAN occurs in the shared corpus; put the standard examples into a real message.
    text = _text(_ham(1)[0], tmp_path)
    text += (
        "\nPlease transfer to GB82 WEST 1234 5698 7654 32 or DE89370400440532013000."
        "\nNot an IBAN: GB82 WEST 1234 5698 7654 33 (checksum), DE89 3704 0044 (too short).\n"
    )
    ibans = _of(text, "IBAN")
    assert [e.value for e in ibans] == ["GB82WEST12345698765432", "DE89370400440532013000"]
    assert all(text[e.start : e.end] == e.text for e in ibans)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("due 2024-03-01.", "2024-03-01"),
        ("on 1 March 2024", "2024-03-01"),
        ("on the 1st of March, 2024", "2024-03-01"),
        ("by March 1, 2024", "2024-03-01"),
        ("am 1. März 2024", "2024-03-01"),
        ("le 1 août 2024", "2024-08-01"),
        ("31/12/2024", "2024-12-31"),
        ("12/31/2024", "2024-12-31"),  # the numbers say month first
        ("01.03.24", "2024-03-01"),  # day first by default
        ("statement for March 2024", "2024-03"),
        ("Sent: Tue, 3 Sep 2002 10:01:02 -0700", "2002-09-03T10:01:02-07:00"),
    ],
)
def test_dates_are_normalised_to_iso(text: str, value: str) -> None:
    assert [e.value for e in _of(text, "DATE")] == [value]


def test_not_dates() -> None:
    assert _of("31 February 2024, 2024-13-01, version 1.2.3, you may 2000 times", "DATE") == []
    assert [e.value for e in _of("01/03/2024", "DATE", day_first=False)] == ["2024-01-03"]


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("Total: $1,234.56", "1234.56", "USD"),
        ("Betrag: 1.234,56 €", "1234.56", "EUR"),
        ("EUR 12,50", "12.50", "EUR"),
        ("£3.2 million", "3200000.00", "GBP"),
        ("CHF 1'250.00", "1250.00", "CHF"),
        ("500 dollars", "500", "USD"),
        ("USD 1,250", "1250", "USD"),
    ],
)
def test_money_amount_and_currency(text: str, amount: str, currency: str) -> None:
    assert [e.value for e in _of(text, "MONEY")] == [{"amount": amount, "currency": currency}]


def test_phone_needs_a_region_for_national_numbers_and_skips_dates() -> None:
    text = "Call (617) 555-1212 or +44 20 7946 0958. Invoice 2024-03-01, ref 12345678."
    assert [e.value for e in _of(text, "PHONE")] == ["+442079460958"]
    assert [e.value for e in _of(text, "PHONE", phone_region="US")] == ["+16175551212", "+442079460958"]


def test_url_keeps_balanced_parentheses_and_email_is_not_split() -> None:
    text = "See (https://en.wikipedia.org/wiki/Foo_(bar)), write to a.b+c@Example.ORG."
    found = {e.type: e for e in find_pattern_entities(text)}
    assert found["URL"].text == "https://en.wikipedia.org/wiki/Foo_(bar)"
    assert found["EMAIL"].text == "a.b+c@Example.ORG" and found["EMAIL"].value == "a.b+c@example.org"

"""E-mail: headers, bodies, charsets, attachments (saved only under blob_dir)."""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from pathlib import Path

import pytest

from workflowd.config import ExtractSettings
from workflowd.extract import Extraction, extract_file

from .conftest import shared_path

META_KEYS = {"subject", "from", "to", "cc", "date", "message_id", "in_reply_to"}


def _fixture(group: str, name: str, settings: ExtractSettings, blob_dir: Path) -> Extraction:
    return extract_file(shared_path("emails", "mail_gem_fixtures", group, name), settings, blob_dir)


def _message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.get("from", "Alice <alice@example.com>")
    msg["To"] = headers.get("to", "bob@example.com")
    msg["Subject"] = headers.get("subject", "Invoice 42")
    msg["Date"] = "Tue, 10 May 2005 11:26:39 -0600"
    msg["Message-ID"] = "<42@example.com>"
    return msg


def test_plain_message_text_title_and_meta(write, settings: ExtractSettings, blob_dir: Path) -> None:
    msg = _message(subject="Grüße from the team")
    msg["Cc"] = "carol@example.com"
    msg["In-Reply-To"] = "<41@example.com>"
    msg.set_content("Hello Bob,\nplease pay.\n")
    result = extract_file(write("note.txt", msg.as_bytes()), settings, blob_dir)
    assert result.media_type == "message/rfc822"
    assert result.title == "Grüße from the team"
    assert META_KEYS <= set(result.meta)
    assert result.meta["date"] == "2005-05-10T11:26:39-06:00"
    assert result.meta["cc"] == "carol@example.com"
    assert result.meta["message_id"] == "<42@example.com>"
    assert result.meta["in_reply_to"] == "<41@example.com>"
    assert result.text == (
        "Subject: Grüße from the team\nFrom: Alice <alice@example.com>\nTo: bob@example.com\n"
        "Cc: carol@example.com\nDate: Tue, 10 May 2005 11:26:39 -0600\n\nHello Bob,\nplease pay."
    )
    assert result.text[result.meta["body_start"] :] == "Hello Bob,\nplease pay."
    assert result.attachments == []


def test_plain_alternative_is_preferred_and_html_used_without_it(write, settings, blob_dir) -> None:
    both = _message()
    both.set_content("plain version")
    both.add_alternative("<html><body><p>html <b>version</b></p></body></html>", subtype="html")
    result = extract_file(write("a.eml", both.as_bytes()), settings, blob_dir)
    assert result.text.endswith("\n\nplain version")
    html_only = _message()
    html_only.set_content("<html><head><style>x{}</style></head><body><p>only html</p></body></html>",
                          subtype="html")
    result = extract_file(write("b.eml", html_only.as_bytes()), settings, blob_dir)
    assert result.text.endswith("\n\nonly html")


def test_attachment_named_like_a_path_stays_in_blob_dir(write, tmp_path: Path, settings, blob_dir) -> None:
    msg = _message()
    msg.set_content("see attached")
    payload = b"root:x:0:0:root:/root:/bin/bash\n"
    msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename="../../etc/passwd")
    msg.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="/tmp/x")
    result = extract_file(write("evil.eml", msg.as_bytes()), settings, blob_dir)
    assert [a.name for a in result.attachments] == ["passwd", "x"]
    first = result.attachments[0]
    assert first.sha256 == hashlib.sha256(payload).hexdigest() and first.size == len(payload)
    assert first.content_type == "application/octet-stream"
    assert Path(first.path).is_absolute()
    assert Path(first.path).resolve().is_relative_to(blob_dir.resolve())
    assert Path(first.path).read_bytes() == payload
    written = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_relative_to(blob_dir)]
    assert {p.name for p in written} == {"evil.eml"}
    assert "root:x" not in result.text


def test_max_attachments(write, blob_dir) -> None:
    msg = _message()
    msg.set_content("many")
    for i in range(5):
        msg.add_attachment(f"file {i}".encode(), "application", "octet-stream", filename=f"{i}.bin")
    result = extract_file(write("m.eml", msg.as_bytes()), ExtractSettings(max_attachments=2), blob_dir)
    assert [a.name for a in result.attachments] == ["0.bin", "1.bin"]
    assert result.meta["attachments_skipped"] == 3


def test_forwarded_message_is_an_eml_attachment(write, settings, blob_dir) -> None:
    inner = _message(subject="Original: the plan")
    inner.set_content("inner body")
    outer = _message(subject="Fwd: the plan")
    outer.set_content("FYI")
    outer.add_attachment(inner)
    result = extract_file(write("fwd.eml", outer.as_bytes()), settings, blob_dir)
    assert [(a.name, a.content_type) for a in result.attachments] == [
        ("Original: the plan.eml", "message/rfc822")
    ]
    assert b"inner body" in Path(result.attachments[0].path).read_bytes()
    assert "inner body" not in result.text


BROKEN = [
    # unknown charset, falls back to detection
    b"From: a@b.c\nTo: d@e.f\nSubject: =?x-unknown?Q?caf=E9?=\nContent-Type: text/plain; charset=x-bogus\n\n"
    b"caf\xe9 cr\xe8me br\xfbl\xe9e, d\xe9j\xe0 vu\n",
    # bad base64
    b"From: a@b.c\nSubject: b64\nContent-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
    b"!!!not base64@@@\n",
    # multipart without a boundary parameter
    b"From: a@b.c\nSubject: nob\nMIME-Version: 1.0\nContent-Type: multipart/mixed\n\n--x\n\nbody\n--x--\n",
    # boundary that never appears, then an unterminated part
    b"From: a@b.c\nSubject: miss\nContent-Type: multipart/mixed; boundary=\"zzz\"\n\n--yyy\nhello\n",
    # malformed address and date headers, 8-bit bytes in a header
    b"From: <<<@@>>>\nTo: ,,,;;\nDate: yesterday-ish\nSubject: Ver\xe3o\n\nbody text\n",
    # bad quoted-printable and an undeclared charset with 8-bit bytes
    b"From: a@b.c\nSubject: qp\nContent-Transfer-Encoding: quoted-printable\n\n"
    b"bad =ZZ escape =\n\xff\xfe end\n",
]


@pytest.mark.parametrize("raw", BROKEN)
def test_broken_messages_still_extract(write, settings, blob_dir, raw: bytes) -> None:
    result = extract_file(write("broken.eml", raw), settings, blob_dir)
    assert result.media_type == "message/rfc822"
    result.text.encode("utf-8")  # no lone surrogates
    assert META_KEYS <= set(result.meta)


def test_broken_header_values_are_decoded_sensibly(write, settings, blob_dir) -> None:
    first = extract_file(write("a.eml", BROKEN[0]), settings, blob_dir)
    assert "crème brûlée" in first.text
    fifth = extract_file(write("e.eml", BROKEN[4]), settings, blob_dir)
    assert fifth.title == "Verão"
    assert fifth.meta["date"] == "yesterday-ish"


def test_shared_attachment_fixtures(settings, blob_dir) -> None:
    disposition = _fixture("attachment_emails", "attachment_content_disposition.eml", settings, blob_dir)
    assert [a.name for a in disposition.attachments] == ["api.rb"]
    assert disposition.title == "testing"
    assert "This is the first part." in disposition.text
    forwarded = _fixture("attachment_emails", "attachment_message_rfc822.eml", settings, blob_dir)
    assert [a.content_type for a in forwarded.attachments] == ["message/rfc822"]
    assert forwarded.attachments[0].name.endswith(".eml")
    nonascii = _fixture("attachment_emails", "attachment_nonascii_filename.eml", settings, blob_dir)
    assert [a.name for a in nonascii.attachments] == ["ciële.txt"]
    pdf = _fixture("attachment_emails", "attachment_pdf_lf.eml", settings, blob_dir)
    assert pdf.title == "Another PDF with 🎉 Unicode chars in it 🍿"
    assert [(a.name, a.content_type) for a in pdf.attachments] == [("broken.pdf", "application/pdf")]
    assert Path(pdf.attachments[0].path).read_bytes().startswith(b"%PDF")
    only = _fixture("attachment_emails", "attachment_only_email.eml", settings, blob_dir)
    assert [a.name for a in only.attachments] == ["blah.gz"]


def test_shared_multi_charset_fixtures(settings, blob_dir) -> None:
    assert _fixture("multi_charset", "japanese.eml", settings, blob_dir).title == "まみむめも"
    iso = _fixture("multi_charset", "japanese_iso_2022.eml", settings, blob_dir)
    assert iso.title == "まみむめも" and "すみません。" in iso.text
    sjis = _fixture("multi_charset", "japanese_shift_jis.eml", settings, blob_dir)
    assert "このメールはテスト用のメールです。" in sjis.text
    assert "스티해" in _fixture("multi_charset", "ks_c_5601-1987.eml", settings, blob_dir).text
    long_name = _fixture("multi_charset", "japanese_attachment_long_name.eml", settings, blob_dir)
    assert long_name.attachments[0].name == "かきくけこ" * 5 + ".txt"


def test_shared_error_fixtures(settings, blob_dir) -> None:
    folder = shared_path("emails", "mail_gem_fixtures", "error_emails")
    for path in sorted(folder.glob("*.eml")):
        result = extract_file(path, settings, blob_dir)
        assert result.media_type == "message/rfc822", path
        assert META_KEYS <= set(result.meta), path
    bad_date = extract_file(folder / "bad_date_header.eml", settings, blob_dir)
    assert bad_date.meta["date"] == "<HR>"
    subject = extract_file(folder / "invalid_subject_characters.eml", settings, blob_dir).title
    assert subject == "Formação FrenetikPolis: Mega Campanha Final Verão | Cursos de Setembro"
    uuencoded = extract_file(folder / "content_transfer_encoding_x_uuencode.eml", settings, blob_dir)
    assert [a.name for a in uuencoded.attachments] == ["PGP_Cmts_on_12-14-01_Pkg.doc"]


def test_delivery_report(settings, blob_dir) -> None:
    report = _fixture("multipart_report_emails", "multipart_report_multiple_status.eml", settings, blob_dir)
    assert "Action: failed" in report.text
    assert [a.content_type for a in report.attachments] == ["message/rfc822"]

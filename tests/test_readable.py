"""What a person wrote: mail bodies without headers, quotes, signatures and list footers."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

from tests.conftest import shared_data
from workflowd.config import ExtractSettings
from workflowd.extract import Extraction, extract_file
from workflowd.extract.core import extract_bytes
from workflowd.extract.mailheaders import header_block
from workflowd.readable import body_start, content_sentences, content_spans, inside
from workflowd.sentences import split_sentences


def _mail(tmp_path: Path, body: str, subject: str = "Re: the plan") -> Extraction:
    """A message through the real extractor, as the daemon stores it."""
    msg = EmailMessage()
    msg["From"] = "Anna Schmidt <anna@example.com>"
    msg["To"] = "bob@example.com"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 10 May 2005 11:26:39 -0600"
    if body:
        msg.set_content(body)
    return extract_bytes(msg.as_bytes(), "m.eml", ExtractSettings(), tmp_path / "blobs")


def _kept(doc: Extraction) -> str:
    spans = content_spans(doc.text, doc.media_type, doc.meta)
    for a, b in spans:
        assert 0 <= a < b <= len(doc.text)
    assert spans == sorted(spans)
    return "\n".join(doc.text[a:b] for a, b in spans)


def test_body_start_is_where_the_body_begins(tmp_path: Path) -> None:
    doc = _mail(tmp_path, "Hello Bob,\nplease pay.\n")
    start = doc.meta["body_start"]
    assert doc.text[:start] == header_block(doc.meta) + "\n\n"
    assert doc.text[start:] == "Hello Bob,\nplease pay."
    assert _kept(doc) == "Hello Bob,\nplease pay."
    empty = _mail(tmp_path, "")
    assert empty.meta["body_start"] == len(empty.text)


def test_documents_stored_before_body_start_find_the_header_block(tmp_path: Path) -> None:
    doc = _mail(tmp_path, "Hello Bob,\n\n> quoted\n\nplease pay.\n")
    old_meta = {k: v for k, v in doc.meta.items() if k != "body_start"}
    assert body_start(doc.text, old_meta) == doc.meta["body_start"]
    assert body_start(doc.text, {}) == doc.meta["body_start"]
    spans = content_spans(doc.text, doc.media_type, doc.meta)
    assert content_spans(doc.text, doc.media_type, old_meta) == spans


def test_inline_replies_keep_the_answers_not_the_quotes(tmp_path: Path) -> None:
    doc = _mail(tmp_path, """\
On Thu, Aug 22, 2002 at 07:27:52AM -0700, Marc
Perkel wrote:
> Has anyone thought of live updates of rules?
>
>> An older quote.

I suggested this a few months ago.

Anna Lee wrote:
> The cron job would run once a week.

Once a day is better.
""")
    assert _kept(doc) == "I suggested this a few months ago.\nOnce a day is better."


def test_other_quote_marks_after_an_attribution(tmp_path: Path) -> None:
    body = "On Sat, 27 Jul 2002, CDale wrote:\n\n--]A true geek.\n--]Runs to the puter.\n\nScripts, baby.\n"
    doc = _mail(tmp_path, body)
    assert _kept(doc) == "Scripts, baby."


def test_top_posted_reply_drops_the_original_below_it(tmp_path: Path) -> None:
    doc = _mail(tmp_path, """\
Might just take a trip over there later tomorrow.

-----Original Message-----
From: ilug-admin@linux.ie [mailto:ilug-admin@linux.ie] On Behalf Of
Ronan Waide
Sent: 27 August 2002 21:19
To: ILUG list
Subject: [ILUG] doolin

If you're not in Doolin, beg, borrow, or steal your way there.
""")
    assert _kept(doc) == "Might just take a trip over there later tomorrow."
    outlook = _mail(tmp_path, """\
Yes, Thursday works.

________________________________
From: Bob <bob@example.com>
Sent: Monday, 3 March 2025 10:00
To: Anna
Subject: Meeting

Does Thursday work for you?
""")
    assert _kept(outlook) == "Yes, Thursday works."


def test_original_message_header_above_inline_quotes_keeps_the_answers(tmp_path: Path) -> None:
    doc = _mail(tmp_path, """\
----- Original Message -----
From: "Scott Wood" <skitster@hotmail.com>
To: <zzzzteana@yahoogroups.com>
Sent: Monday, October 07, 2002 6:51 AM
Subject: Re: Megalithomania

> Right... but what is a mara?

A stone circle, I think.
""")
    assert _kept(doc) == "A stone circle, I think."


def test_forwarded_message_keeps_its_text_without_its_headers(tmp_path: Path) -> None:
    doc = _mail(tmp_path, """\
FYI, see below.

---------- Forwarded message ----------
From: Carol <carol@example.com>
Date: Mon, 3 Mar 2025 at 10:00
Subject: Budget
To: Anna <anna@example.com>

The budget for 2025 is approved.
""")
    assert _kept(doc) == "FYI, see below.\nThe budget for 2025 is approved."
    eudora = _mail(tmp_path, """\
--- begin forwarded text


Delivered-To: fork@example.com
User-Agent: Microsoft-Entourage/10.1.0.2006
Date: Thu, 03 Oct 2002 07:56:39 +0100
From: "David Birch" <dgw@example.org>

Dear All, see the forum page for details.

--- end forwarded text
""")
    assert _kept(eudora) == "Dear All, see the forum page for details."


def test_signatures_and_sign_offs(tmp_path: Path) -> None:
    doc = _mail(tmp_path, """\
The server is back up.

Cheers,
Anna
--
Anna Schmidt | Acme Corp | +49 30 1234567
"Computers are useless. They can only give you answers."
""")
    assert _kept(doc) == "The server is back up."
    phone = _mail(tmp_path, "Running late, start without me.\n\nSent from my iPhone\n")
    assert _kept(phone) == "Running late, start without me."
    thanks_only = _mail(tmp_path, "Thanks!\n")
    assert _kept(thanks_only) == "Thanks!"


def test_dashes_before_a_long_text_are_not_a_signature(tmp_path: Path) -> None:
    lines = "\n".join(f"Point {i}: the text goes on here." for i in range(20))
    doc = _mail(tmp_path, f"Read the review:\n--\n{lines}\n")
    assert _kept(doc) == f"Read the review:\n--\n{lines}"


def test_mailing_list_footers(tmp_path: Path) -> None:
    mailman = _mail(tmp_path, """\
I don't have a Windows machine, so converting them is a problem.


-------------------------------------------------------
This sf.net email is sponsored by:ThinkGeek
Welcome to geek heaven.
http://thinkgeek.com/sf
_______________________________________________
Sitescooper-talk mailing list
Sitescooper-talk@lists.sourceforge.net
https://lists.sourceforge.net/lists/listinfo/sitescooper-talk
""")
    assert _kept(mailman) == "I don't have a Windows machine, so converting them is a problem."
    yahoo = _mail(tmp_path, """\
So is this mountain limestone or granite?

------------------------ Yahoo! Groups Sponsor ---------------------~-->
4 DVDs Free +s&p Join Now
http://us.click.yahoo.com/pt6YBB/NXiEAA/mG3HAA/7gSolB/TM
---------------------------------------------------------------------~->

To unsubscribe from this group, send an email to:
forteana-unsubscribe@egroups.com



Your use of Yahoo! Groups is subject to http://docs.yahoo.com/info/terms/
""")
    assert _kept(yahoo) == "So is this mountain limestone or granite?"
    ilug = _mail(tmp_path, """\
Best of luck with the insurance.
Iain
-- 
Irish Linux Users' Group Social Events: social@linux.ie
http://www.linux.ie/mailman/listinfo/social for (un)subscription information.
List maintainer: listmaster@linux.ie
""")
    assert _kept(ilug) == "Best of luck with the insurance.\nIain"
    glued = _mail(tmp_path, "My iMac hasn't crashed once.\nhttp://xent.com/mailman/listinfo/fork\n")
    assert _kept(glued) == "My iMac hasn't crashed once."
    newsletter = _mail(tmp_path, """\
Free calls all weekend with our new plan.

To unsubscribe from this mailing list, please click on:

http://www.example.com/cgi-bin/subscribe.cgi?listid=1
""")
    assert _kept(newsletter) == "Free calls all weekend with our new plan."
    hotmail = _mail(tmp_path, """\
At least, that was the story a few years ago.

_________________________________________________________________
Send and receive Hotmail on your mobile device: http://mobile.msn.com
""")
    assert _kept(hotmail) == "At least, that was the story a few years ago."


def test_pgp_armour(tmp_path: Path) -> None:
    doc = _mail(tmp_path, """\
-----BEGIN PGP SIGNED MESSAGE-----
Hash: SHA1

The release is signed and on the server.

-----BEGIN PGP SIGNATURE-----
Version: GnuPG v1.0.7 (GNU/Linux)

iD8DBQE9ZQJ5Z7xQmVbLs4oRAkh4AJ9a
=Qm0a
-----END PGP SIGNATURE-----
""")
    assert _kept(doc) == "The release is signed and on the server."


def test_a_message_that_only_quotes_keeps_its_body(tmp_path: Path) -> None:
    doc = _mail(tmp_path, "> I think we should go.\n> Who is with me?\n")
    assert _kept(doc) == "> I think we should go.\n> Who is with me?"
    sig_only = _mail(tmp_path, "-- \nAnna Schmidt, Acme Corp\n")
    assert _kept(sig_only) == "-- \nAnna Schmidt, Acme Corp"


def test_a_mail_without_a_body_reads_its_subject(tmp_path: Path) -> None:
    doc = _mail(tmp_path, "", subject="Quarterly report attached")
    assert _kept(doc) == "Quarterly report attached"


def test_other_documents_are_read_whole() -> None:
    text = "Subject: not a mail\n\n> a plain text file\n-- \nsigned"
    assert content_spans(text, "text/plain", {}) == [(0, len(text))]
    assert content_spans(" \n", "text/plain", {}) == []
    assert content_spans("", None, None) == []


def test_truncated_text_and_odd_meta() -> None:
    text = "Subject: x\nFrom: a@example.com"
    meta = {"subject": "x", "from": "a@example.com", "body_start": 400}  # the body was cut off
    assert content_spans(text, "message/rfc822", meta) == [(9, 10)]
    assert content_spans("hello", "message/rfc822", {"body_start": "junk"}) == [(0, 5)]


def test_sentences_inside_content_spans(tmp_path: Path) -> None:
    doc = _mail(tmp_path, "Hello Bob. The invoice is paid.\nAnna wrote:\n> Is it paid? Check.\nThanks.\n")
    spans = content_spans(doc.text, doc.media_type, doc.meta)
    sentences = content_sentences(doc.text, spans)
    assert [s.text for s in sentences] == ["Hello Bob.", "The invoice is paid."]
    assert all(doc.text[s.start : s.end] == s.text and inside(spans, s.start, s.end) for s in sentences)
    # filtering the whole text's sentences keeps the same ones
    kept = [s for s in split_sentences(doc.text) if inside(spans, s.start, s.end)]
    assert [s.text for s in kept] == ["Hello Bob.", "The invoice is paid."]
    assert not inside(spans, 0, 5)  # the header block
    assert not inside([], 0, 1)
    assert inside([(0, 4), (10, 20)], 12, 20) and not inside([(0, 4), (10, 20)], 2, 12)


HEADER_LINE = re.compile(r"^(?:From|Subject|To|Cc|Date|Sent): \S", re.MULTILINE)
QUOTED_LINE = re.compile(r"^[ \t]*>", re.MULTILINE)
FOOTER_LINE = re.compile(
    r"listinfo|^\S+ mailing list\s*$|^To unsubscribe|sf\.net email is sponsored|Yahoo! Groups|^_{30,}\s*$",
    re.MULTILINE | re.IGNORECASE,
)


def test_real_mail_reads_the_body_without_headers_quotes_and_footers(tmp_path: Path) -> None:
    """Every third message of the public mail: what the steps read before, and now."""
    paths = sorted(shared_data("emails").rglob("*.eml"))[::3]
    settings = ExtractSettings()
    before = {"header": 0, "quote": 0, "footer": 0}
    after = dict.fromkeys(before, 0)
    with_body = kept_body = 0
    for path in paths:
        doc = extract_file(path, settings, tmp_path / "blobs")
        text, start = doc.text, doc.meta["body_start"]
        assert text[:start] == (header_block(doc.meta) + "\n\n")[:start], path
        kept = "\n".join(text[a:b] for a, b in content_spans(text, doc.media_type, doc.meta))
        for name, rx in (("header", HEADER_LINE), ("quote", QUOTED_LINE), ("footer", FOOTER_LINE)):
            before[name] += bool(rx.search(text))
            after[name] += bool(rx.search(kept))
        if text[start:].strip():
            with_body += 1
            kept_body += bool(kept.strip())
    n = len(paths)
    figures = {k: f"{before[k] / n:.1%} -> {after[k] / n:.1%}" for k in before}
    print(f"\n{n} messages; share whose read text has a line of each kind: {figures}")
    print(f"messages with a body: {with_body}, with text kept: {kept_body}")
    assert n >= 800
    assert before["header"] == n and before["quote"] > 0.3 * n and before["footer"] > 0.3 * n
    assert after["header"] <= 0.02 * n, figures
    assert after["quote"] <= 0.01 * n, figures
    assert after["footer"] <= 0.04 * n, figures
    assert kept_body == with_body


def test_a_real_top_posted_reply_with_a_list_footer(tmp_path: Path) -> None:
    path = shared_data("emails", "spamassassin", "easy_ham", "00205.a7ef07a6046817705ce83f59e2bd3ac8.eml")
    doc = extract_file(path, ExtractSettings(), tmp_path / "blobs")
    assert _kept(doc) == (
        "Might just take a trip over there later tomorrow, it is after all only\non my backdoor-step...\n\nE."
    )

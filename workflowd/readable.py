"""What a person wrote in a document: the spans of its text that summaries and sentiment read.

A mail document's text is its header block, a blank line and the body (``meta["body_start"]``
is where the body starts). What its sender wrote is the body less the quoted replies
(``> ...`` lines and the "On Mon, X wrote:" line above them), the replied-to message under
"-----Original Message-----", forwarded-message and PGP headers, the signature (after
``-- ``), sign-offs ("Cheers,\nAnna", "Sent from my iPhone") and mailing-list footers
(Mailman, SourceForge, Yahoo! Groups, "To unsubscribe..."). Other documents are read whole.

Spans are offsets into the stored text, so sentences keep their offsets. How a step uses it::

    from workflowd.readable import content_sentences, content_spans, inside

    spans = content_spans(doc.text, doc.media_type, doc.meta)
    # summarize: candidates are the sentences a person wrote, with offsets into doc.text
    candidates = content_sentences(doc.text, spans)
    # sentiment: the same sentences; or, to keep a split of the whole text, filter it
    sentences = [s for s in split_sentences(doc.text) if inside(spans, s.start, s.end)]

:func:`content_sentences` is the better of the two: it splits each span on its own, so a
kept line followed, without a blank line, by a dropped one is not lost with it.

The rules work on lines, from the surest to the least sure: footers at the end of the body,
PGP armour, forwarded and replied-to message headers, quotes with their attribution line,
then signatures and sign-offs, which must be short and end where the next dropped part
starts. When they would leave nothing of a body that has text (a message that only quotes),
quotes and signatures are kept, and failing that the whole body. The reply-parsing libraries
(email-reply-parser, mail-parser-reply, quotequail, talon) return cleaned text rather than
offsets and cut at the first reply header, which loses the answers of an inline reply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from .extract.mailheaders import header_block
from .extract.sniff import MAIL
from .sentences import Sentence, split_sentences

__all__ = ["body_start", "content_sentences", "content_spans", "inside"]

Span = tuple[int, int]

_MAX_FOOTER_LINES = 30  # a list footer is never longer (non-blank lines, separators included)
_MAX_FOOTER_PARAGRAPH = 8
_MAX_HEADER_LINES = 16  # a forwarded message's headers, wrapped values included
_MAX_SIGNATURE_LINES = 12
_MAX_SIGN_OFF_LINES = 4  # after "Cheers," / "Best regards,": a name, a title, a phone number

_SEPARATOR = re.compile(r"\s*(?:[-_=~*+#]\s?){10,}")  # a rule line, maybe with words in it
_FOOTER_MARK = re.compile(
    r"mailing list|listinfo|list-?info|unsubscri|\(un\)subscri|subscription|sponsored by"
    r"|Yahoo! ?Groups|egroups\.|list maintainer|mailman|to stop receiving|to be removed"
    r"|remove(?:d)? (?:yourself )?from (?:this|our|the) (?:mailing )?list|opt[- ]?out"
    r"|(?:you are|you're) receiving this|you (?:have )?received this (?:message|e-?mail)"
    r"|manage (?:my|your) subscriptions|all rights reserved",
    re.IGNORECASE,
)
_LIST_URL = re.compile(r"\s*<?https?://\S+/(?:mailman/)?listinfo(?:/\S*)?>?\s*$")
_BARE_LINK = re.compile(r"\s*<?(?:https?://|www\.|mailto:)\S+>?\s*$")
_ADDRESS = re.compile(r"https?://|www\.|\S@\S")
_OTHER_QUOTE = re.compile(r"[ \t]*(--\]|[|#):\]])")  # quote marks some mailers use instead of ">"
_QUOTED = re.compile(r"[ \t]*(?:[A-Z][A-Za-z]{0,3})?>")  # "> text", and supercite's "RAH> text"
_PGP_SIGNED = re.compile(r"-----BEGIN PGP SIGNED MESSAGE-----\s*$")
_PGP_BEGIN = re.compile(r"-----BEGIN PGP SIGNATURE-----\s*$")
_PGP_END = re.compile(r"-----END PGP SIGNATURE-----\s*$")
_ORIGINAL = re.compile(
    r"\s*-{2,}\s*(?:Original Message|Ursprüngliche Nachricht|Message d'origine|Mensaje original"
    r"|Oorspronkelijk bericht|Messaggio originale|Mensagem original)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_FORWARDED = re.compile(
    r"\s*(?:-{2,}\s*(?:Forwarded message|Forwarded Message|Weitergeleitete Nachricht"
    r"|Message transféré|Mensaje reenviado|Doorgestuurd bericht|Messaggio inoltrato"
    r"|Mensagem encaminhada)\b.*-{2,}|Begin forwarded message:|Anfang der weitergeleiteten Nachricht:"
    r"|-{2,} ?(?:begin|end(?: of)?) forwarded (?:text|message)\b.*)\s*$",  # Eudora, mutt
    re.IGNORECASE,
)
_OUTLOOK_RULE = re.compile(r"\s*_{20,}\s*$")  # Outlook's line above a "From:/Sent:" block
_HEADER_LINE = re.compile(
    r"\s*\*?(?:From|To|Cc|Bcc|Date|Sent|Subject|Reply-To|Organization|Newsgroups|URL"
    r"|Von|An|Datum|Betreff|Gesendet|De|Para|Enviado|Asunto|Objet|Envoyé|À)\*?\s?:",
    re.IGNORECASE,
)
_ANY_HEADER = re.compile(r"\s*[A-Za-z][\w-]{1,30}:\s")  # under a forward marker: Delivered-To:, X-Mailer:...
_REPLY_HEADER = re.compile(r"\s*\*?(?:From|Von|De)\*?\s?:", re.IGNORECASE)
_DATE_HEADER = re.compile(r"\s*\*?(?:Sent|Date|Gesendet|Datum|Enviado|Envoyé)\*?\s?:", re.IGNORECASE)
_ATTRIBUTION_VERB = re.compile(
    r"\b(?:wrote|writes|write|said|says|mentioned|mused|confessed|replied|posted|asked|typed"
    r"|spake|opined|quipped|remarked|commented|noted|stated|explained|quoted|included"
    r"|schrieb|escribió|a écrit|skrev|escreveu|schreef|scritto|scrisse|napisał|написал)\b\W*:\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION_START = re.compile(
    r"\s*(?:On|At|Quoting|In (?:message|article|a message|<)|Am|Le|El|Em|Op|Den|Il)\b", re.IGNORECASE
)
_BRACKET_NAME = re.compile(r"\s*\[[^\]\n]{1,40}\]\s*$")  # "[Tim]" before a quote, as on python-dev
_SIGNATURE = re.compile(r"--[ \t]?$")
_SENT_FROM = re.compile(
    r"\s*(?:Sent (?:from|via|using|with) .{1,40}|Get Outlook for .{1,30}|Envoyé de mon .{1,30}"
    r"|Von meinem .{1,40} gesendet|Enviado desde mi .{1,30})\s*$",
    re.IGNORECASE,
)
_SIGN_OFF = re.compile(
    r"\s*(?:(?:best|kind|warm|warmest|kindest|with)?\s*regards|best(?: wishes)?|rgds|br|cheers"
    r"|(?:many )?thanks(?: again| a lot| in advance)?|thank you(?: very much)?|thx|tia"
    r"|sincerely(?: yours)?|yours(?: truly| sincerely| faithfully)?|all the best|take care"
    r"|love|ciao|hth|greetings|mit freundlichen grüßen|viele grüße|gruß|grüße|cordialement"
    r"|bien à vous|saludos|un saludo)\s*[,.!]*\s*$",
    re.IGNORECASE,
)


def content_spans(text: str, media_type: str | None, meta: dict[str, Any] | None = None) -> list[Span]:
    """The ``(start, end)`` spans of ``text`` that a person wrote, in order, trimmed of blanks.

    Mail (``message/rfc822``): the body without quotes, signatures, list footers and
    forwarded/replied-to headers, each span trimmed of blanks; the body with its quotes when
    nothing else would be left, and failing that the whole body; the Subject's value when the
    body is empty. Anything else: ``[(0, len(text))]``. No spans for blank text.
    """
    if media_type != MAIL:
        return [(0, len(text))] if text.strip() else []
    start = body_start(text, meta or {})
    lines = _lines(text, start)
    if any(text[a:b].strip() for a, b in lines):
        for keep_quotes in (False, True):
            spans = _trimmed(text, _kept(lines, _drop(text, lines, keep_quotes)))
            if spans:
                return spans
        return _trimmed(text, [(start, len(text))])
    return _subject(text, start)


def body_start(text: str, meta: dict[str, Any]) -> int:
    """Where a mail document's body starts: ``meta["body_start"]``, else after its header block."""
    recorded = meta.get("body_start")
    if isinstance(recorded, int) and not isinstance(recorded, bool) and recorded >= 0:
        return min(recorded, len(text))
    # stored before the extractor recorded it: the block is rebuilt from the same meta
    shown = any(meta.get(k) for k in ("subject", "from", "to", "cc", "date_raw"))
    block = header_block(meta) if shown else ""
    if block and text.startswith(block):
        end = len(block)
    elif not meta:
        m = re.match(r"(?:(?:Subject|From|To|Cc|Date): [^\n]*(?:\n|\Z))+", text)
        end = m.end() if m else 0
    else:
        return 0
    blank_line = len(text) - len(text[end:].lstrip("\n")) - end
    return end + min(blank_line, 2)


def inside(spans: Sequence[Span], start: int, end: int) -> bool:
    """Whether ``text[start:end]`` lies within one span of ``spans`` (sorted, as from content_spans)."""
    lo, hi = 0, len(spans)
    while lo < hi:  # the last span starting at or before ``start``
        mid = (lo + hi) // 2
        if spans[mid][0] <= start:
            lo = mid + 1
        else:
            hi = mid
    return lo > 0 and end <= spans[lo - 1][1]


def content_sentences(text: str, spans: Sequence[Span]) -> list[Sentence]:
    """The sentences of each span, split on their own, with offsets into ``text``."""
    out = []
    for a, b in spans:
        out.extend(Sentence(a + s.start, a + s.end, s.text) for s in split_sentences(text[a:b]))
    return out


def readable_sentences(text: str, media_type: str | None, meta: dict[str, Any] | None = None) -> list[Sentence]:
    """The sentences a person wrote: of a mail, those of its content spans; of anything else,
    every sentence of the text (exactly ``split_sentences(text)``)."""
    if media_type != MAIL:
        return split_sentences(text)
    return content_sentences(text, content_spans(text, media_type, meta))


def _lines(text: str, start: int) -> list[Span]:
    """The lines of ``text[start:]`` as spans, without their line breaks."""
    out = []
    pos = start
    while pos <= len(text):
        nl = text.find("\n", pos)
        end = len(text) if nl < 0 else nl
        out.append((pos, end))
        if nl < 0:
            break
        pos = nl + 1
    return out


def _kept(lines: list[Span], drop: list[bool]) -> list[Span]:
    """Runs of lines not dropped, as spans."""
    spans: list[Span] = []
    joined = False  # whether the line joins the span before it
    for (a, b), dropped in zip(lines, drop, strict=True):
        if not dropped:
            spans.append((spans.pop()[0], b) if joined else (a, b))
        joined = not dropped
    return spans


def _trimmed(text: str, spans: list[Span]) -> list[Span]:
    """Spans without their leading and trailing whitespace; blank ones left out."""
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            out.append((a, b))
    return out


def _subject(text: str, start: int) -> list[Span]:
    """The Subject's value in the header block: what a person wrote in a mail without a body."""
    m = re.search(r"^Subject: ([^\n]*)", text[:start], re.MULTILINE)
    return _trimmed(text, [(m.start(1), m.end(1))]) if m else []


def _drop(text: str, lines: list[Span], keep_quotes: bool) -> list[bool]:
    """Which body lines a person did not write, rule by rule."""
    ls = [text[a:b] for a, b in lines]
    blank = [not s.strip() for s in ls]
    drop = [False] * len(ls)
    footer = _footer_start(ls, blank)
    for i in range(footer, len(ls)):
        drop[i] = True
    _pgp(ls, drop, footer)
    _message_headers(ls, blank, drop, footer, keep_quotes)
    if not keep_quotes:
        _quotes(ls, blank, drop, footer)
        _signatures(ls, blank, drop, footer)
    return drop


def _footer_start(ls: list[str], blank: list[bool]) -> int:
    """The first line of the list footers at the end of the body (``len(ls)`` when none)."""
    n = len(ls)
    tail_lines = _suffix_counts(blank)
    start = n
    # a rule line that carries a footer mark, or has one on the next two lines, in the last lines
    for i, s in enumerate(ls):
        if tail_lines[i] > _MAX_FOOTER_LINES or not _SEPARATOR.match(s) or _QUOTED.match(s):
            continue
        near = [t for t in ls[i + 1 : i + 4] if t.strip()][:2]
        if _FOOTER_MARK.search(s) or any(_FOOTER_MARK.search(t) and not _QUOTED.match(t) for t in near):
            start = i
            break
    # then, from the end up, rule lines and paragraphs with a mark and an address (or on a footer)
    end = tentative = start
    while end > 0:
        j = end
        while j > 0 and blank[j - 1]:
            j -= 1
        if j > 0 and _LIST_URL.match(ls[j - 1]):  # a list's address, even glued to the paragraph above
            end = tentative = j - 1
            continue
        if j > 0 and _SEPARATOR.match(ls[j - 1]) and not _QUOTED.match(ls[j - 1]):
            tentative = j - 1 if tentative == end else tentative  # a rule line goes with what is below
            end = j - 1
            continue
        i = j
        while i > 0 and not blank[i - 1] and not _SEPARATOR.match(ls[i - 1]) and not _QUOTED.match(ls[i - 1]):
            if _SIGNATURE.match(ls[i - 1]):  # "-- " above a list's lines: the list's delimiter
                i -= 1
                break
            i -= 1
        para = ls[i:j]
        if i == j or len(para) > _MAX_FOOTER_PARAGRAPH:
            break
        # the footer starts at the first line with a mark or an address: lines above it are the sender's
        k = next((k for k in range(i, j) if _FOOTER_MARK.search(ls[k]) or _ADDRESS.search(ls[k])), j)
        k = k - 1 if k > i and _SIGNATURE.match(ls[k - 1]) else k
        tail = " ".join(ls[k:j])
        marked = _FOOTER_MARK.search(tail) and (_ADDRESS.search(tail) or end < n or tentative > end)
        # a free-mail or sponsor advertisement: a short paragraph with a link under a rule line
        advert = len(para) <= 5 and _ADDRESS.search(tail) and i > 0 and _SEPARATOR.match(ls[i - 1])
        if advert:
            end = tentative = i
        elif marked:
            end = tentative = k
            if k > i:
                break
        elif len(para) == 1 and _BARE_LINK.match(para[0]) and tentative == end:
            end = i  # a link alone: footer only if a marked paragraph ("To unsubscribe, click:") is above
        else:
            break
    end = tentative
    return end if end < n and any(not b for b in blank[end:]) else n


def _suffix_counts(blank: list[bool]) -> list[int]:
    """For each line, how many non-blank lines there are from it to the end."""
    out = [0] * (len(blank) + 1)
    for i in range(len(blank) - 1, -1, -1):
        out[i] = out[i + 1] + (not blank[i])
    return out


def _pgp(ls: list[str], drop: list[bool], end: int) -> None:
    """The armour of a PGP-signed message: its first lines and the signature block."""
    i = 0
    while i < end:
        if _PGP_SIGNED.match(ls[i]):
            j = i + 1
            while j < end and ls[j].strip():  # "Hash: SHA1"
                j += 1
            _mark(drop, i, j)
            i = j
        elif _PGP_BEGIN.match(ls[i]):
            j = i + 1
            while j < end and not _PGP_END.match(ls[j]):
                j += 1
            if j < end:
                _mark(drop, i, j + 1)
            i = j + 1
        else:
            i += 1


def _message_headers(ls: list[str], blank: list[bool], drop: list[bool], end: int, keep_quotes: bool) -> None:
    """Headers of forwarded and replied-to messages; the unquoted original of a top-posted reply."""
    own_text = intro = False  # whether the sender wrote above line i; whether that line announced it
    for i in range(end):
        s = ls[i]
        if drop[i] or blank[i]:
            continue
        if _QUOTED.match(s):
            continue
        forwarded = bool(_FORWARDED.match(s))
        original = bool(_ORIGINAL.match(s)) or (
            bool(_OUTLOOK_RULE.match(s)) and i + 1 < end and bool(_REPLY_HEADER.match(ls[i + 1]))
        )
        if forwarded or original:
            j = _header_lines_end(ls, blank, i + 1, end, _ANY_HEADER)
        elif (i == 0 or blank[i - 1]) and _ANY_HEADER.match(s):
            j = _header_lines_end(ls, blank, i, end, _ANY_HEADER)
            names = [t for t in ls[i:j] if _ANY_HEADER.match(t)]
            mostly_headers = len(names) >= 2 and 3 * len(names) >= 2 * (j - i)
            if not mostly_headers or not any(_HEADER_LINE.match(t) for t in names):
                own_text, intro = True, False
                continue
            original = bool(_REPLY_HEADER.match(s)) and any(_DATE_HEADER.match(t) for t in names)
        else:
            own_text = True
            intro = s.rstrip().endswith(":")  # "This is the original announcement:" keeps what follows
            continue
        _mark(drop, i, j)
        nxt = next((k for k in range(j, end) if not blank[k]), end)
        answered = original and own_text and not intro and not keep_quotes
        if answered and nxt < end and not _QUOTED.match(ls[nxt]):
            _mark(drop, j, end)  # the replied-to message below a top-posted answer
            return


def _header_lines_end(ls: list[str], blank: list[bool], i: int, end: int, header: re.Pattern[str]) -> int:
    """The end of the ``Name: value`` lines starting at ``i`` (or after up to two blank lines).

    Outlook wraps long values without indenting them ("On Behalf Of\nRonan Waide"): up to two
    other lines between header lines belong to the block; indented lines after the last one too.
    """
    j = i
    while j < end and blank[j] and j - i < 2:
        j += 1
    if j >= end or not header.match(ls[j]):
        return i
    last = j
    k = j + 1
    while k < end and not blank[k] and k - last <= 3 and k - j < _MAX_HEADER_LINES:
        if header.match(ls[k]):
            last = k
        k += 1
    last += 1
    while last < end and ls[last][:1] in (" ", "\t") and not blank[last]:
        last += 1
    return last


def _quotes(ls: list[str], blank: list[bool], drop: list[bool], end: int) -> None:
    """``>`` lines, and the attribution line ("On Mon, X wrote:") above each quoted block.

    Some mailers quote with another mark ("| ", "--]"): it counts when the first line under an
    "On ..., X wrote:" line starts with it.
    """
    found: set[str] = set()
    for i in range(end):
        if _ATTRIBUTION_VERB.search(ls[i]) and _ATTRIBUTION_START.match(ls[i]):
            k = next((k for k in range(i + 1, min(end, i + 4)) if not blank[k]), end)
            m = _OTHER_QUOTE.match(ls[k]) if k < end else None
            if m:
                found.add(m.group(1))
    marks = tuple(found)

    def quoted(line: str) -> bool:
        return bool(_QUOTED.match(line)) or (bool(marks) and line.lstrip().startswith(marks))

    for i in range(end):
        if not quoted(ls[i]):
            continue
        drop[i] = True
        j = i - 1
        while j >= 0 and blank[j] and i - j <= 3:
            j -= 1
        if j < 0 or blank[j] or drop[j] or quoted(ls[j]):
            continue
        if _attribution(ls[j], j == 0 or blank[j - 1]):
            drop[j] = True
            if j > 0 and not blank[j - 1] and not drop[j - 1] and not _ATTRIBUTION_START.match(ls[j]):
                above = ls[j - 1]  # a wrapped "On Mon, 19 Aug 2002, X\nwrote:"
                if _ATTRIBUTION_START.match(above) and len(above) <= 100 and re.search(r"[\d@]", above):
                    drop[j - 1] = True


def _attribution(line: str, own_paragraph: bool) -> bool:
    """Whether ``line``, right above a quote, introduces it ("Anna:" alone, not "... and so:")."""
    s = line.strip()
    if _BRACKET_NAME.match(s) or _REPLY_HEADER.match(s):  # "[Tim]", "From: Win Treese <...>"
        return True
    if not s.endswith(":") and not _ATTRIBUTION_VERB.search(s):
        return False
    short = len(s.split()) <= 5 and (own_paragraph or s[:1].isupper())
    return bool(_ATTRIBUTION_VERB.search(s) or _ATTRIBUTION_START.match(s) or short)


def _signatures(ls: list[str], blank: list[bool], drop: list[bool], end: int) -> None:
    """``-- `` signatures, "Sent from my ..." lines and sign-offs, each short and at a part's end."""
    nonblank = _suffix_counts(blank)
    next_drop = [end] * (end + 1)
    next_sig = [end] * (end + 1)  # a forwarded message's signature ends at the sender's own "-- "
    for i in range(end - 1, -1, -1):
        next_drop[i] = i if drop[i] else next_drop[i + 1]
        next_sig[i] = i if ls[i] == "-- " else next_sig[i + 1]
    own_text = False  # a sign-off alone is the message, not its end
    for i in range(end):
        if drop[i] or blank[i]:
            continue
        s = ls[i]
        stop = min(next_drop[i], next_sig[i + 1]) if s == "-- " else next_drop[i]
        size = nonblank[i] - nonblank[stop]
        ends = (
            (_SIGNATURE.match(s) and size <= _MAX_SIGNATURE_LINES + 1)
            or (_SENT_FROM.match(s) and len(s.split()) <= 8 and size <= 3)
            or (_SIGN_OFF.match(s) and size <= _MAX_SIGN_OFF_LINES + 1 and own_text)
        )
        if ends:
            _mark(drop, i, stop)
        else:
            own_text = True


def _mark(drop: list[bool], start: int, end: int) -> None:
    for k in range(start, end):
        drop[k] = True

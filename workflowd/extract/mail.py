"""RFC 822 e-mail: a header block and the readable body, attachments saved as blobs.

Mail is hostile input: broken headers, unknown charsets, bad base64 and missing boundaries
are normal. One bad part is skipped and counted (``meta["part_errors"]``); it never fails
the message.
"""

from __future__ import annotations

import email
import mimetypes
from email import policy
from email.message import Message
from pathlib import Path
from typing import Any

from ..blobs import write_blob
from ..config import ExtractSettings
from ..errors import ExtractionError
from .html import html_to_text
from .mailheaders import header, header_block, mail_meta
from .names import safe_filename
from .result import Attachment, Extraction
from .sniff import MAIL
from .textutil import decode_bytes, normalise_newlines, short_reason

__all__ = ["extract_mail"]

_MAX_DEPTH = 40
_BODY_TYPES = ("text/plain", "text/html")


def extract_mail(data: bytes, settings: ExtractSettings, blob_dir: Path) -> Extraction:
    """Parse one message: header block plus body as text, Subject as title, attachments as blobs.

    ``meta["body_start"]`` is the offset in the text where the body begins (after the header
    block and its blank line; the text's length when the body is empty).
    """
    try:
        msg = email.message_from_bytes(data, policy=policy.default)
        meta: dict[str, Any] = mail_meta(msg)
        walker = _Walker(settings, blob_dir)
        walker.visit(msg, 0, top=True)
    except (MemoryError, OSError, ExtractionError):
        raise
    except Exception as exc:
        raise ExtractionError(f"damaged e-mail: {short_reason(exc)}") from None
    if walker.skipped:
        meta["attachments_skipped"] = walker.skipped
    if walker.errors:
        meta["part_errors"] = walker.errors
    body = "\n\n".join(t for t in walker.texts if t.strip())
    block = header_block(meta)
    text = "\n\n".join(p for p in (block, body) if p)
    # where the body starts in the text: readers that skip the header block need it exactly
    meta["body_start"] = len(text) - len(body)
    return Extraction(
        media_type=MAIL,
        text=text,
        title=meta["subject"] or None,
        meta=meta,
        attachments=walker.attachments,
    )


class _Walker:
    """Collects body texts and attachments from a MIME tree."""

    def __init__(self, settings: ExtractSettings, blob_dir: Path):
        self.settings = settings
        self.blob_dir = Path(blob_dir).resolve()
        self.texts: list[str] = []
        self.attachments: list[Attachment] = []
        self.skipped = 0
        self.errors = 0

    def visit(self, part: Message, depth: int, top: bool = False) -> None:
        """Route one part to the body, the attachments or its children."""
        if depth > _MAX_DEPTH:
            return
        ctype = _content_type(part)
        if ctype == "message/rfc822" and not top:
            self._guard(self._attach, part, ctype)
        elif ctype == "message/delivery-status":
            self._guard(self._delivery_status, part)
        elif part.is_multipart():
            children = _children(part)
            if ctype == "multipart/alternative":
                self._alternative(children, depth)
            else:
                for child in children:
                    self.visit(child, depth + 1)
        elif ctype.startswith("multipart/"):  # a multipart without a usable boundary: its raw text
            self._guard(self._text, part, "text/plain")
        elif _is_attachment(part, ctype, top):
            self._guard(self._attach, part, ctype)
        elif ctype.startswith("text/"):
            self._guard(self._text, part, ctype)

    def _guard(self, method: Any, *args: Any) -> None:
        """Run one part's handler; a failure is counted and the part skipped."""
        try:
            method(*args)
        except (MemoryError, OSError):
            raise
        except Exception:
            self.errors += 1

    def _alternative(self, children: list[Message], depth: int) -> None:
        """Prefer the plain-text version; fall back to richer ones only when it is blank."""
        ranked = sorted(children, key=lambda p: {"text/plain": 0, "text/html": 2}.get(_content_type(p), 1))
        for child in ranked:
            before = len(self.texts)
            self.visit(child, depth + 1)
            if any(t.strip() for t in self.texts[before:]):
                return
            del self.texts[before:]

    def _text(self, part: Message, ctype: str) -> None:
        """A body part: decode it in its declared charset (or a detected one)."""
        payload = part.get_payload(decode=True) or b""
        text, _ = decode_bytes(payload, _charset(part))
        if ctype == "text/html":
            text = html_to_text(text)[0]
        self.texts.append(normalise_newlines(text.lstrip("\ufeff")).strip())

    def _delivery_status(self, part: Message) -> None:
        """A bounce report's status fields, as ``Name: value`` lines."""
        blocks = []
        for block in _children(part):
            blocks.append("\n".join(f"{k}: {' '.join(str(v).split())}" for k, v in block.raw_items()))
        self.texts.append("\n\n".join(b for b in blocks if b))

    def _attach(self, part: Message, ctype: str) -> None:
        """Save one attachment as a blob, up to ``max_attachments``."""
        if len(self.attachments) >= self.settings.max_attachments:
            self.skipped += 1
            return
        name = _filename(part)
        if ctype == "message/rfc822":
            data = _message_bytes(part)
            inner = _children(part)
            subject = header(inner[0], "Subject") if inner else ""
            name = name or (subject[:120] + ".eml" if subject else "message.eml")
            if not name.lower().endswith(".eml"):
                name += ".eml"
        else:
            data = part.get_payload(decode=True) or b""
        fallback = "attachment" + (mimetypes.guess_extension(ctype) or "")
        sha, path = write_blob(self.blob_dir, data)
        name = safe_filename(name, fallback)
        self.attachments.append(Attachment(name, ctype, sha256=sha, size=len(data), path=str(path)))


def _content_type(part: Message) -> str:
    """The part's content type, lower-case; text/plain when missing or unreadable."""
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def _charset(part: Message) -> str | None:
    """The declared charset, or None when there is none or it cannot be read."""
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _filename(part: Message) -> str | None:
    """The declared file name (Content-Disposition filename or Content-Type name), if any."""
    try:
        name = part.get_filename()
    except Exception:
        return None
    return str(name) if name else None


def _children(part: Message) -> list[Message]:
    """The sub-parts of a multipart or message part (an empty list when malformed)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    return []


def _is_attachment(part: Message, ctype: str, top: bool) -> bool:
    """Attachments: disposition attachment, named non-body parts, or a message that is not text."""
    try:
        disposition = part.get_content_disposition()
    except Exception:
        disposition = None
    if disposition == "attachment":
        return True
    if ctype in _BODY_TYPES:
        return False
    if _filename(part):
        return True
    return top and not ctype.startswith("text/")


def _message_bytes(part: Message) -> bytes:
    """The bytes of an attached message, regenerated from its parsed form."""
    inner = _children(part)
    if not inner:
        payload = part.get_payload(decode=True)
        return payload if isinstance(payload, bytes) else b""
    try:
        return inner[0].as_bytes(policy=policy.compat32)
    except Exception:
        return inner[0].as_string(policy=policy.compat32).encode("utf-8", "surrogateescape")

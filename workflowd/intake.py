"""Taking a file: hash it, then record it and queue it in one transaction."""

from __future__ import annotations

import email.policy
import hashlib
import os
import stat
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import BinaryIO

from .blobs import write_blob
from .config import Settings
from .errors import ExtractionError
from .extract import detect_media_type
from .extract.core import check_size
from .extract.names import safe_filename
from .filenames import display
from .filenames import raw as raw_bytes
from .store import FoundFile, Store

CHUNK = 1 << 20
HEAD = 8192


class FileChanged(Exception):
    """The file changed while it was being read; take it again once it settles."""


class OutsideFolder(OSError):
    """The path leads (through a symbolic link) out of the watched folder, which is not followed."""


def open_file(path: Path, within: Path | None = None) -> BinaryIO:
    """Open a regular file for reading, never blocking (a FIFO is refused, not waited on).

    With ``within``, the file opened must lie inside that folder once every symbolic link is
    resolved: the check is made on the open file itself, so a link swapped in after a
    scan looked cannot lead the daemon elsewhere. Raises OSError (OutsideFolder).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"not a regular file: {display(path)}")
        if within is not None:
            where = _opened_path(fd) or os.path.realpath(path)
            if not is_within(where, within):
                raise OutsideFolder(
                    f"{display(path)} is a link to {display(where)}, outside {display(within)} "
                    "(follow_symlinks = true takes such files)"
                )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def is_within(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (already resolved) lies inside ``folder`` once its links are resolved."""
    real_folder = os.path.realpath(folder)
    try:
        return os.path.commonpath([real_folder, os.fspath(path)]) == real_folder
    except ValueError:  # one relative, the other absolute
        return False


def _opened_path(fd: int) -> str | None:
    """Where an open file lies, from /proc (Linux), or None where that cannot be known."""
    try:
        where = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    return where.removesuffix(" (deleted)") if where.startswith("/") else None


def hash_file(path: Path) -> tuple[str, int, bytes]:
    """sha256, size and the first bytes (for sniffing the type) of a file, read in chunks."""
    with open_file(path) as fh:
        return _hash(fh)


def _hash(fh: BinaryIO) -> tuple[str, int, bytes]:
    digest = hashlib.sha256()
    size = 0
    head = b""
    while chunk := fh.read(CHUNK):
        if not head:
            head = chunk[:HEAD]
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size, head


def size_error(size: int, settings: Settings) -> str | None:
    """Why a file of this size is not processed at all (empty, too large), or None."""
    try:
        check_size(size, settings.extract)
    except ExtractionError as exc:
        return str(exc)
    return None


def take_file(
    store: Store,
    settings: Settings,
    path: Path,
    *,
    source: str,
    pipeline: str,
    within: Path | None = None,
) -> tuple[int, bool]:
    """Record ``path`` as a document (or as another location of known content) and queue it.

    Returns ``(document id, created)``. Raises FileChanged if the file changed while it was
    hashed, and OSError if it cannot be read (OutsideFolder: a link out of ``within``). The
    file itself is never modified. Its name may be any bytes: the store gets its display form
    and, where that differs, its exact bytes.
    """
    with open_file(path, within) as fh:
        before = os.fstat(fh.fileno())
        sha256, size, head = _hash(fh)
        after = os.fstat(fh.fileno())
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or size != after.st_size:
        raise FileChanged(display(path))
    found = FoundFile(
        source=source,
        path=display(path),
        path_raw=raw_bytes(path),
        name=display(path.name),
        sha256=sha256,
        size=size,
        mtime_ns=after.st_mtime_ns,
        media_type=detect_media_type(head, path.name) if head else None,
    )
    return store.documents.add(
        found, pipeline=pipeline, max_attempts=settings.jobs.max_attempts, error=size_error(size, settings)
    )


@dataclass(frozen=True)
class MailMessage:
    """A message a mail source read, with where it stands in that source."""

    raw: bytes
    folder: str  # IMAP folder, "" for a Maildir
    key: str  # unique within the source and folder: "<uidvalidity>:<uid>" or a Maildir name
    location: str  # what `list` shows as its path: an imap:// URL or the Maildir file (display form)
    act: bool = False  # an after-processing action (mark seen, flag, move) is due
    folder_state: tuple[int, int] | None = None  # IMAP (uidvalidity, last_uid) to store with it
    location_raw: bytes | None = None  # a Maildir file's exact path, where it differs from location

    def message_id(self) -> str | None:
        return header_message_id(self.raw)


def _headers(raw: bytes) -> Message:
    return BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw[: 256 * 1024])


def header_message_id(raw: bytes) -> str | None:
    """The Message-ID of a message (or of its header alone), whitespace-normalised, or None."""
    value = _headers(raw).get("Message-ID")
    return (" ".join(str(value).split()) or None) if value else None


def message_name(raw: bytes) -> str:
    """A document name for a message: its subject as a safe file name, with .eml."""
    subject = _headers(raw).get("Subject")
    stem = safe_filename(str(subject) if subject else None, fallback="message")
    return _cut_utf8(stem, 120) + ".eml"


def _cut_utf8(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore").rstrip()


def take_message(
    store: Store, settings: Settings, msg: MailMessage, *, source: str, pipeline: str
) -> tuple[int, bool]:
    """Keep a message's bytes in the blob store, record it as a document with its place in the
    source (and the folder's new state), all in one transaction. Returns ``(document id, created)``.

    The bytes are written before the transaction: a crash in between leaves an unused blob,
    never a document without its content. Content seen before becomes another location.
    """
    # Line ends as a Maildir keeps them: IMAP sends CRLF, so without this the same message
    # read over IMAP and from a Maildir would be two documents.
    raw = msg.raw.replace(b"\r\n", b"\n")
    error = size_error(len(raw), settings)
    if error is None:
        sha256, _ = write_blob(settings.blob_dir, raw)
    else:
        sha256 = hashlib.sha256(raw).hexdigest()
    found = FoundFile(
        source=source,
        path=msg.location,
        path_raw=msg.location_raw,
        name=message_name(raw),
        sha256=sha256,
        size=len(raw),
        media_type="message/rfc822",
    )
    with store.transaction():
        doc_id, created = store.documents.add(
            found, pipeline=pipeline, max_attempts=settings.jobs.max_attempts, error=error
        )
        store.mail.record(
            source, msg.folder, msg.key, message_id=msg.message_id(), document_id=doc_id, action_pending=msg.act
        )
        if msg.folder_state is not None:
            store.mail.set_folder_state(source, msg.folder, *msg.folder_state)
    return doc_id, created

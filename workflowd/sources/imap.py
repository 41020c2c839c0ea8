"""IMAP sources: each message of the configured folders becomes a document, exactly once.

One thread per source holds one connection (IMAPClient: TLS, STARTTLS or plain). For each
folder the store remembers UIDVALIDITY and the last UID taken; a sync asks the server only
for UIDs above it, checks the Message-IDs of what it found against those already taken (a
message copied or moved between watched folders is not fetched again), then fetches the
rest one small batch at a time. Each message's bytes, its document and the folder's new
last UID are committed together, so a crash, a dropped connection or a restart resumes
after the last message taken and never takes one twice. When UIDVALIDITY changes, the
folder is read again from the start and matched by Message-ID, without duplicates.

Between syncs the thread waits in IDLE where the server offers it (new mail wakes it at
once), polling every ``poll_interval`` otherwise. Any failure (server down, connection
dropped, wrong password, folder missing) is logged in one line; the thread connects again
after a delay that doubles up to ``retry_delay_max``. Passwords are read when connecting
and never logged.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from ..config import ImapSourceSettings, Settings
from ..errors import ConfigError
from ..intake import MailMessage, header_message_id, take_message
from ..store import Store

log = logging.getLogger("workflowd.sources.imap")

FIRST_RETRY_S = 2.0
IDLE_REFRESH_S = 25 * 60  # RFC 2177: re-issue IDLE before the server's 30-minute timeout
ACTION_RECHECK_S = 5.0  # while processed messages wait for their action
FETCH_BATCH = 10
MESSAGE_ID_HEADER = b"BODY[HEADER.FIELDS (MESSAGE-ID)]"


class ImapSource:
    def __init__(
        self,
        conf: ImapSourceSettings,
        settings: Settings,
        *,
        on_new: Callable[[], None],
        on_exit: Callable[[], None] | None = None,
    ):
        """``on_exit`` is called when the source's thread ends other than by ``stop()``."""
        self.conf = conf
        self.settings = settings
        self.name = conf.name
        self._on_new = on_new
        self._on_exit = on_exit
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._client: IMAPClient | None = None
        self._thread: threading.Thread | None = None
        self._delay = min(FIRST_RETRY_S, conf.retry_delay_max)
        self._missing: set[str] = set()
        self._acts = conf.mark_seen or conf.flag or conf.move_to is not None

    @property
    def where(self) -> str:
        return f"{self.conf.username}@{self.conf.host}:{self.conf.effective_port}"

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Start (or, after its thread died, restart) the source's thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._main, name=f"imap:{self.name}", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _main(self) -> None:
        try:
            self._run()
        finally:
            if self._on_exit is not None and not self._stop.is_set():
                self._on_exit()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._lock:
            if self._client is not None:
                try:  # wakes a thread waiting in IDLE or on a slow server
                    self._client.socket().shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            store = Store(self.settings.db_path)
        except Exception:
            log.exception("IMAP source %s cannot open the store; it does not run", self.name)
            return
        try:
            while not self._stop.is_set():
                try:
                    self._session(store)
                except Exception as exc:  # noqa: BLE001 - every failure: log, wait, connect again
                    if self._stop.is_set():
                        break
                    log.warning(
                        "IMAP %s (%s): %s; connecting again in %.0f s",
                        self.name,
                        self.where,
                        describe(exc),
                        self._delay,
                    )
                    if not isinstance(exc, IMAPClientError | OSError | ConfigError):
                        log.debug("details", exc_info=True)
                    self._stop.wait(self._delay)
                    self._delay = min(self._delay * 2, self.conf.retry_delay_max)
        finally:
            store.close()

    # -- one connection ----------------------------------------------------------------------

    def _connect(self) -> IMAPClient:
        conf = self.conf
        password = conf.password()
        context = None
        if conf.security != "none":
            context = ssl.create_default_context(cafile=str(conf.ca_file) if conf.ca_file else None)
        client = IMAPClient(
            conf.host,
            port=conf.effective_port,
            ssl=conf.security == "tls",
            ssl_context=context,
            timeout=conf.timeout,
        )
        try:
            if conf.security == "starttls":
                client.starttls(context)
            client.login(conf.username, password.get_secret_value())
        except BaseException:
            try:
                client.shutdown()
            except OSError:
                pass
            raise
        return client

    def _session(self, store: Store) -> None:
        client = self._connect()
        with self._lock:
            self._client = client
        if self._stop.is_set():  # stop() came while connecting
            client.shutdown()
            return
        try:
            log.info(
                "IMAP %s: connected to %s; reading %s", self.name, self.where, ", ".join(self.conf.folders)
            )
            self._delay = min(FIRST_RETRY_S, self.conf.retry_delay_max)
            can_idle = self.conf.idle and b"IDLE" in client.capabilities()
            while not self._stop.is_set():
                for folder in self.conf.folders:
                    self._sync(store, client, folder)
                waiting = self._act(store, client) if self._acts else 0
                wait = ACTION_RECHECK_S if waiting else self.conf.poll_interval
                if can_idle and self.conf.folders[0] not in self._missing:
                    if len(self.conf.folders) == 1 and not waiting:
                        wait = IDLE_REFRESH_S
                    self._idle(client, self.conf.folders[0], wait)
                else:
                    client.noop()  # notices a dead connection now rather than at the next sync
                    self._stop.wait(wait)
        finally:
            with self._lock:
                self._client = None
            try:
                if self._stop.is_set():
                    client.shutdown()
                else:
                    client.logout()
            except (IMAPClientError, OSError):
                pass

    def _idle(self, client: IMAPClient, folder: str, timeout: float) -> None:
        """Wait in IDLE until new mail, ``timeout`` or stop; raises when the connection is gone."""
        client.select_folder(folder, readonly=True)
        client.idle()
        deadline = time.monotonic() + timeout
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            responses = client.idle_check(timeout=remaining)
            if self._stop.is_set():
                return
            if any(_is_new_mail(r) or r[:1] == (b"BYE",) for r in responses):
                break
            if not responses and time.monotonic() < deadline - 0.5:
                break  # woken without a response: the server closed; idle_done() says so
        if not self._stop.is_set():
            client.idle_done()

    # -- one folder --------------------------------------------------------------------------

    def _sync(self, store: Store, client: IMAPClient, folder: str) -> None:
        try:
            info = client.select_folder(folder, readonly=not self._acts)
        except IMAPClientError as exc:
            if folder not in self._missing:
                log.error(
                    "IMAP %s: cannot open folder %r (%s); looking again at each sync",
                    self.name,
                    folder,
                    describe(exc),
                )
                self._missing.add(folder)
            return
        if folder in self._missing:
            log.info("IMAP %s: folder %r is back", self.name, folder)
            self._missing.discard(folder)
        uidvalidity = int(info[b"UIDVALIDITY"])
        state = store.mail.folder_state(self.name, folder)
        last_uid = 0
        if state is not None and state[0] == uidvalidity:
            last_uid = state[1]
        elif state is not None:
            log.warning(
                "IMAP %s: UIDVALIDITY of %r changed (%d -> %d); reading it again and matching "
                "messages by Message-ID",
                self.name,
                folder,
                state[0],
                uidvalidity,
            )
        uids = sorted(
            u for u in client.search(self._criteria(last_uid), charset=self._charset()) if u > last_uid
        )
        if not uids:
            if state is None or state[0] != uidvalidity:
                with store.transaction():
                    store.mail.set_folder_state(self.name, folder, uidvalidity, last_uid)
            return
        log.info("IMAP %s: %d new message(s) in %r", self.name, len(uids), folder)
        for i in range(0, len(uids), FETCH_BATCH):
            if self._stop.is_set():
                return
            self._take_batch(store, client, folder, uidvalidity, uids[i : i + FETCH_BATCH])

    def _take_batch(
        self, store: Store, client: IMAPClient, folder: str, uidvalidity: int, uids: list[int]
    ) -> None:
        heads = client.fetch(uids, ["RFC822.SIZE", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
        ids = {
            uid: header_message_id(heads[uid].get(MESSAGE_ID_HEADER) or b"") for uid in uids if uid in heads
        }
        taken = store.mail.documents_by_message_id(self.name, [m for m in ids.values() if m])
        limit = self.settings.extract.max_file_mb * 1024 * 1024
        wanted = []
        for uid in uids:
            key, mid = f"{uidvalidity}:{uid}", ids.get(uid)
            if uid not in heads:  # expunged since the search
                self._skip(store, folder, key, uidvalidity, uid, None, None, None)
            elif mid is not None and mid in taken:
                log.info(
                    "IMAP %s: message %s in %r was taken before (Message-ID %s); not fetched again",
                    self.name,
                    uid,
                    folder,
                    mid,
                )
                self._skip(store, folder, key, uidvalidity, uid, mid, taken[mid], None)
            elif heads[uid].get(b"RFC822.SIZE", 0) > limit:
                size, mb = heads[uid][b"RFC822.SIZE"], self.settings.extract.max_file_mb
                error = f"message of {size} bytes is over the {mb:g} MB limit"
                log.warning("IMAP %s: message %s in %r not fetched: %s", self.name, uid, folder, error)
                self._skip(store, folder, key, uidvalidity, uid, mid, None, error)
            else:
                wanted.append(uid)
        if not wanted:
            return
        bodies = client.fetch(wanted, ["BODY.PEEK[]"])
        for uid in wanted:
            raw = bodies.get(uid, {}).get(b"BODY[]")
            key = f"{uidvalidity}:{uid}"
            if raw is None:
                self._skip(store, folder, key, uidvalidity, uid, ids.get(uid), None, None)
                continue
            msg = MailMessage(
                raw=raw,
                folder=folder,
                key=key,
                location=self._url(folder, uidvalidity, uid),
                act=self._acts,
                folder_state=(uidvalidity, uid),
            )
            doc_id, created = take_message(
                store, self.settings, msg, source=self.name, pipeline=self.conf.pipeline
            )
            if created:
                log.info("IMAP %s: queued message %d of %r as document %d", self.name, uid, folder, doc_id)
                self._on_new()
            else:
                log.info(
                    "IMAP %s: message %d of %r has the same content as document %d",
                    self.name,
                    uid,
                    folder,
                    doc_id,
                )

    def _skip(
        self,
        store: Store,
        folder: str,
        key: str,
        uidvalidity: int,
        uid: int,
        message_id: str | None,
        document_id: int | None,
        error: str | None,
    ) -> None:
        """Move past a message that is not fetched, remembering why."""
        with store.transaction():
            if error is not None or document_id is not None:
                store.mail.record(
                    self.name, folder, key, message_id=message_id, document_id=document_id, error=error
                )
            store.mail.set_folder_state(self.name, folder, uidvalidity, uid)

    def _criteria(self, last_uid: int) -> list[Any]:
        criteria: list[Any] = ["UID", f"{last_uid + 1}:*"]
        if self.conf.search_from:
            criteria += ["FROM", self.conf.search_from]
        if self.conf.search_subject:
            criteria += ["SUBJECT", self.conf.search_subject]
        if self.conf.search_since:
            criteria += ["SINCE", self.conf.search_since]
        return criteria

    def _charset(self) -> str | None:
        texts = (self.conf.search_from or "") + (self.conf.search_subject or "")
        return None if texts.isascii() else "UTF-8"

    def _url(self, folder: str, uidvalidity: int, uid: int) -> str:
        """RFC 5092 URL of the message: what `list` shows as its path."""
        port = "" if self.conf.effective_port == 143 else f":{self.conf.effective_port}"
        return (
            f"imap://{quote(self.conf.username, safe='')}@{self.conf.host}{port}/"
            f"{quote(folder, safe='')};UIDVALIDITY={uidvalidity}/;UID={uid}"
        )

    # -- after processing --------------------------------------------------------------------

    def _act(self, store: Store, client: IMAPClient) -> int:
        """Mark seen / flag / move the messages whose documents are processed; returns how
        many still wait for their documents."""
        due = store.mail.due_actions(self.name)
        by_folder: dict[str, list[dict[str, Any]]] = {}
        for row in due:
            by_folder.setdefault(row["folder"], []).append(row)
        for folder, rows in by_folder.items():
            if folder in self._missing:
                continue
            info = client.select_folder(folder)
            uidvalidity = int(info[b"UIDVALIDITY"])
            uids = [int(r["key"].split(":")[1]) for r in rows if r["key"].split(":")[0] == str(uidvalidity)]
            if uids:
                self._apply(client, uids)
                log.info(
                    "IMAP %s: %s %d processed message(s) in %r", self.name, self._what(), len(uids), folder
                )
            store.mail.actions_done([r["id"] for r in rows])
        return store.mail.waiting_actions(self.name)

    def _apply(self, client: IMAPClient, uids: Sequence[int]) -> None:
        flags = ([b"\\Seen"] if self.conf.mark_seen else []) + ([b"\\Flagged"] if self.conf.flag else [])
        if flags:
            client.add_flags(uids, flags, silent=True)
        if self.conf.move_to is not None:
            if client.has_capability("MOVE"):
                client.move(uids, self.conf.move_to)
            else:
                client.copy(uids, self.conf.move_to)
                client.delete_messages(uids, silent=True)
                if client.has_capability("UIDPLUS"):
                    client.uid_expunge(uids)
                else:
                    client.expunge()

    def _what(self) -> str:
        parts = (["marked seen"] if self.conf.mark_seen else []) + (["flagged"] if self.conf.flag else [])
        if self.conf.move_to is not None:
            parts.append(f"moved to {self.conf.move_to!r}")
        return " and ".join(parts)


def _is_new_mail(response: tuple[Any, ...]) -> bool:
    return len(response) >= 2 and isinstance(response[0], int) and response[1] in (b"EXISTS", b"RECENT")


def describe(exc: BaseException) -> str:
    """One line for the log: what failed, without a traceback (and never a password)."""
    if isinstance(exc, LoginError):
        return f"login refused: {_text(exc)}"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return "the server did not answer in time"
    if isinstance(exc, IMAPClient.AbortError):
        return f"connection lost: {_text(exc)}"
    if isinstance(exc, OSError):
        return f"network error: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {_text(exc)}"


def _text(exc: BaseException) -> str:
    text = " ".join(str(a.decode(errors="replace") if isinstance(a, bytes) else a) for a in exc.args)
    text = re.sub(r"""\bb(['"])(.*?)\1""", r"\2", text)  # imaplib puts server bytes in as b'...'
    return " ".join(text.split())[:300] or type(exc).__name__

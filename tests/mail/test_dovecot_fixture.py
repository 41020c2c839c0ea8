"""The Dovecot test server itself: messages, restarts, UIDVALIDITY resets, fetch counting, TLS."""

from __future__ import annotations

import email
import imaplib
import socket
import ssl

import pytest

from tests.mailserver import Dovecot


def _client(server: Dovecot) -> imaplib.IMAP4:
    conn = imaplib.IMAP4(server.host, server.port, timeout=10)
    conn.login(server.user, server.password)
    return conn


def _message_ids(server: Dovecot, folder: str = "INBOX") -> list[str]:
    conn = _client(server)
    try:
        conn.select(folder, readonly=True)
        typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        assert typ == "OK"
        return sorted(email.message_from_bytes(d[1])["Message-ID"] for d in data if isinstance(d, tuple))
    finally:
        conn.logout()


def test_append_and_uids(dovecot: Dovecot, ham_emails: list[bytes]) -> None:
    uids = [dovecot.append(raw) for raw in ham_emails[:3]]
    assert uids == [1, 2, 3]
    assert dovecot.uids() == [1, 2, 3]
    assert len([p for sub in ("cur", "new") for p in (dovecot.maildir / sub).iterdir()]) == 3

    dovecot.create_folder("Archive 2024")
    assert dovecot.append(ham_emails[3], "Archive 2024", flags=["\\Seen"]) == 1
    assert dovecot.uids("Archive 2024") == [1]
    assert dovecot.uids() == [1, 2, 3]
    assert dovecot.folder_path("Archive 2024").is_dir()


def test_stop_start_keeps_port_and_messages(dovecot: Dovecot, ham_emails: list[bytes]) -> None:
    for raw in ham_emails[:2]:
        dovecot.append(raw)
    port = dovecot.port
    conn = _client(dovecot)
    conn.select("INBOX")

    dovecot.stop()
    assert not dovecot.running
    with pytest.raises(OSError):
        socket.create_connection((dovecot.host, port), timeout=1).close()
    with pytest.raises((imaplib.IMAP4.abort, OSError)):  # the open session was ended
        conn.noop()

    dovecot.start()
    assert dovecot.running and dovecot.port == port
    assert dovecot.uids() == [1, 2]
    conn = _client(dovecot)  # a client reconnects to the same port
    assert conn.select("INBOX", readonly=True) == ("OK", [b"2"])
    conn.logout()


def test_reset_uidvalidity_keeps_messages(dovecot: Dovecot, ham_emails: list[bytes]) -> None:
    for raw in ham_emails[:3]:
        dovecot.append(raw)
    dovecot.create_folder("Lists")
    dovecot.append(ham_emails[3], "Lists")
    before, before_ids = dovecot.uidvalidity(), _message_ids(dovecot)
    lists_before = dovecot.uidvalidity("Lists")

    after = dovecot.reset_uidvalidity()
    assert after != before
    assert dovecot.uidvalidity() == after
    assert _message_ids(dovecot) == before_ids
    assert len(dovecot.uids()) == 3
    assert dovecot.uidvalidity("Lists") == lists_before  # other folders untouched

    assert dovecot.reset_uidvalidity("Lists") not in (lists_before, after)
    assert len(dovecot.uids("Lists")) == 1


def test_fetch_counts_count_bodies_of_finished_sessions(dovecot: Dovecot, ham_emails: list[bytes]) -> None:
    for raw in ham_emails[:3]:
        dovecot.append(raw)
    assert dovecot.fetch_counts()["sessions"] == 0  # the helpers' own sessions are left out

    conn = _client(dovecot)
    conn.select("INBOX", readonly=True)
    assert conn.uid("FETCH", "1:3", "(BODY.PEEK[])")[0] == "OK"
    assert conn.uid("FETCH", "1", "(BODY.PEEK[HEADER])")[0] == "OK"
    conn.logout()
    counts = dovecot.fetch_counts(min_sessions=1)
    assert counts["sessions"] == 1
    assert counts["body_count"] == 3 and counts["hdr_count"] == 1
    sent = [raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n") for raw in ham_emails[:3]]  # CRLF on the wire
    assert counts["body_bytes"] == sum(len(raw) for raw in sent)

    # A session still connected has logged nothing yet; stopping the server ends it.
    open_conn = _client(dovecot)
    open_conn.select("INBOX", readonly=True)
    open_conn.uid("FETCH", "2", "(RFC822)")
    assert dovecot.fetch_counts()["body_count"] == 3
    dovecot.stop()
    counts = dovecot.fetch_counts(min_sessions=2)
    assert counts["body_count"] == 4 and counts["sessions"] == 2


def test_starttls_and_imaps_with_self_signed_certificate(dovecot_tls: Dovecot) -> None:
    server = dovecot_tls
    assert server.cert_path is not None and server.cert_path.is_file()
    assert server.imaps_port and server.imaps_port != server.port

    conn = imaplib.IMAP4(server.host, server.port, timeout=10)
    assert "STARTTLS" in conn.capabilities
    conn.starttls(ssl_context=server.ssl_context())
    assert conn.login(server.user, server.password)[0] == "OK"
    conn.logout()

    conn = imaplib.IMAP4_SSL(server.host, server.imaps_port, ssl_context=server.ssl_context(), timeout=10)
    assert conn.login(server.user, server.password)[0] == "OK"
    assert conn.select("INBOX")[0] == "OK"
    conn.logout()

    # Without trusting the certificate the handshake fails.
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL(
            server.host, server.imaps_port, ssl_context=ssl.create_default_context(), timeout=10
        )

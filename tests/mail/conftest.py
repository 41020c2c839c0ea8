"""Fixtures for tests of IMAP mail sources: a real, throwaway Dovecot server on 127.0.0.1.

``dovecot`` is a started server (user ``alice``/``secret``, plain IMAP on ``dovecot.port``);
``dovecot_tls`` also has STARTTLS on that port and IMAPS on ``dovecot_tls.imaps_port``, with a
self-signed certificate at ``cert_path`` (``ssl_context()`` trusts it). Both are stopped at the
end of the test, failed or not. They skip when Dovecot is not installed or the tests do not run
as root. See tests/mailserver.py for the helpers (append, uids, reset_uidvalidity,
fetch_counts...).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import shared_data
from tests.mailserver import Dovecot


def _serve(root: Path, *, tls: bool) -> Iterator[Dovecot]:
    reason = Dovecot.unavailable()
    if reason:
        pytest.skip(f"no Dovecot test server: {reason}")
    server = Dovecot(root, tls=tls)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    """A started Dovecot IMAP server for this test (plain IMAP, no TLS)."""
    yield from _serve(tmp_path / "dovecot", tls=False)


@pytest.fixture
def dovecot_tls(tmp_path: Path) -> Iterator[Dovecot]:
    """A started Dovecot with a self-signed certificate: STARTTLS on ``port``, IMAPS on ``imaps_port``."""
    yield from _serve(tmp_path / "dovecot-tls", tls=True)


@pytest.fixture
def ham_emails() -> list[bytes]:
    """Five real messages (raw bytes) from the shared SpamAssassin easy_ham corpus, or skip."""
    folder = shared_data("emails", "spamassassin", "easy_ham")
    files = sorted(p for p in folder.iterdir() if p.is_file())[:5]
    if len(files) < 5:
        pytest.skip(f"fewer than 5 messages in {folder}")
    return [p.read_bytes() for p in files]

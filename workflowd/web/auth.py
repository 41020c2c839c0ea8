"""The web page's secret and what is derived from it.

A random token is written once, readable by its owner only, in the data dir. Scripts send it
as ``Authorization: Bearer``; ``workflowd open`` gives a browser a login link with it, which
sets a session cookie (an HMAC of the token, HttpOnly, SameSite=Strict). A request that
changes something and comes with the cookie must also carry the CSRF token (another HMAC of
the token, which the pages hold) and come from the page's own origin.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SESSION_COOKIE = "workflowd_session"
CSRF_HEADER = "x-csrf-token"


def ensure_token(path: Path) -> str:
    """The token in ``path``, created (0600, 32 random bytes) when missing."""
    try:
        token = path.read_text(encoding="ascii").strip()
        if token:
            return token
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")
    os.replace(tmp, path)
    return token


def derive(token: str, purpose: str) -> str:
    return hmac.new(token.encode(), f"workflowd-{purpose}-v1".encode(), hashlib.sha256).hexdigest()


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())

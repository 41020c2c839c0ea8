"""Standard Webhooks 1.0 signatures: ``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``.

A secret written ``whsec_<base64>`` is the key those base64 bytes encode (what Standard Webhooks
receivers expect); any other text is used as its UTF-8 bytes, so that a receiver which
verifies with the raw bytes of a shared password works too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from ..errors import ConfigError

SECRET_PREFIX = "whsec_"


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret; raises ConfigError on a ``whsec_`` secret that is not base64."""
    if secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX) :].strip()
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("the webhook secret starts with whsec_ but the rest is not base64") from None
    else:
        key = secret.encode("utf-8")
    if not key:
        raise ConfigError("the webhook secret is empty")
    return key


def signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of ``id.timestamp.body``."""
    signed = message_id.encode("utf-8") + b"." + str(int(timestamp)).encode("ascii") + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def webhook_headers(message_id: str, timestamp: int, body: bytes, secret: str | None) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt; the signature only when there is a secret."""
    headers = {"webhook-id": message_id, "webhook-timestamp": str(int(timestamp))}
    if secret is not None:
        headers["webhook-signature"] = signature(secret_key(secret), message_id, timestamp, body)
    return headers

"""HMAC signatures of webhook deliveries.

The receiver verifies ``X-Signature: sha256=<hex>`` where ``<hex>`` is the lower-case
hex HMAC-SHA256 of the raw request body under the secret of ``vendor/account`` (a bare
``<hex>`` is accepted too). The comparison is constant-time. Eventix/OpenTicket,
Eventbrite and Stager do not sign this way themselves: a vendor that cannot sign is put
behind a signing relay (or configured to sign, where it offers that).
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "X-Signature"
_PREFIX = "sha256="


def sign(secret: SecretStr | str, body: bytes) -> str:
    """The header value for ``body``: ``sha256=<hex>``."""
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return _PREFIX + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: SecretStr, body: bytes, header: str | None) -> str | None:
    """None when ``header`` signs ``body`` under ``secret``; else why not (for the 401)."""
    if not header:
        return f"missing {SIGNATURE_HEADER} header: sign the raw body as sha256=<hex HMAC-SHA256>"
    value = header.strip()
    if value.lower().startswith(_PREFIX):
        value = value[len(_PREFIX):]
    expected = sign(secret, body)[len(_PREFIX):]
    if not hmac.compare_digest(value.lower().encode(), expected.encode()):
        return (f"{SIGNATURE_HEADER} does not match the body: sign the exact bytes sent with "
                "the secret configured for this vendor/account")
    return None

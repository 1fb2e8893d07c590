"""HMAC signatures of webhook deliveries.

The receiver verifies ``X-Signature: sha256=<hex>`` where ``<hex>`` is the lower-case
hex HMAC-SHA256, under the secret of ``vendor/account``, of the *signed content*:

- Stager and Eventbrite: the raw request body. Everything that gives a delivery its
  meaning is in the body (Stager's ``trigger``, Eventbrite's ``config.action``).
- Eventix / OpenTicket: the ``OpenTicket-Trigger`` header value (ASCII, without
  surrounding blanks), a newline (0x0A), then the raw body. OpenTicket puts the trigger
  in that header only; the body does not name it, so the signature must cover it, or a
  captured ``order.paid`` body could be replayed as ``order.refunded``.

A bare ``<hex>`` is accepted too; the comparison is constant-time. Headers the
signature does not cover (``OpenTicket-Dedupe-Key``, ``OpenTicket-Identifier``) never
decide what a delivery means or whether it is counted.

This is mode ``hmac`` (``webhook.secrets``, ``auth.py``). Eventix/OpenTicket, Eventbrite
and Stager do not sign; their accounts use what each vendor sends (a URL token, the
OpenTicket nonce, Eventbrite's fetch), or sit behind a signing relay
(``connectors.fakes.webhooks`` plays one when given a secret).
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

__all__ = ["SIGNATURE_HEADER", "sign", "signed_content", "verify"]

SIGNATURE_HEADER = "X-Signature"
_PREFIX = "sha256="


def signed_content(body: bytes, trigger: str | None = None) -> bytes:
    """What the HMAC is computed over: ``body``, or ``trigger``, a newline, ``body``."""
    if trigger is None:
        return body
    return trigger.encode("utf-8", "surrogateescape") + b"\n" + body


def sign(secret: SecretStr | str, body: bytes, *, trigger: str | None = None) -> str:
    """The header value for ``body`` (and ``trigger``, for Eventix): ``sha256=<hex>``."""
    key = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    return _PREFIX + hmac.new(key.encode(), signed_content(body, trigger),
                              hashlib.sha256).hexdigest()


def verify(secret: SecretStr, body: bytes, header: str | None, *,
           trigger: str | None = None) -> str | None:
    """None when ``header`` signs ``body`` (and ``trigger``) under ``secret``; else why not
    (for the 401)."""
    what = "the raw body" if trigger is None else 'the trigger header + "\\n" + the raw body'
    if not header:
        return f"missing {SIGNATURE_HEADER} header: sign {what} as sha256=<hex HMAC-SHA256>"
    value = header.strip()
    if value.lower().startswith(_PREFIX):
        value = value[len(_PREFIX):]
    expected = sign(secret, body, trigger=trigger)[len(_PREFIX):]
    if not hmac.compare_digest(value.lower().encode("utf-8", "replace"), expected.encode()):
        return (f"{SIGNATURE_HEADER} does not match: sign {what}, exactly as sent, with the "
                "secret configured for this vendor/account")
    return None

"""Why a delivery is refused, each with the HTTP status the vendor gets.

Mapping problems of an authenticated delivery are ``connectors.sdk.MappingError``
(422 and a dead letter); a body that is not JSON is ``connectors.sdk.jsonbody.BadJson``
(400 and a dead letter).
"""

from __future__ import annotations

from bus.errors import BusError, RetriableError

__all__ = ["BadSignature", "FetchFailed", "PeerNotAllowed", "Unauthenticated",
           "UnknownAccount", "UnknownVendor", "WebhookError"]


class WebhookError(BusError):
    """A refused delivery: ``status`` is the HTTP answer, ``field`` what was wrong."""

    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnknownVendor(WebhookError):
    status = 404


class UnknownAccount(WebhookError):
    status = 404


class Unauthenticated(WebhookError):
    """A missing or wrong credential: URL token, OpenTicket nonce or signature."""

    status = 401


class BadSignature(Unauthenticated):
    """A missing or wrong ``X-Signature`` (mode hmac)."""


class PeerNotAllowed(WebhookError):
    """A Stager delivery from an address outside ``stager_allow_from``."""

    status = 403


class FetchFailed(RetriableError):
    """The vendor API behind an ``api_url`` did not answer; the vendor should redeliver."""

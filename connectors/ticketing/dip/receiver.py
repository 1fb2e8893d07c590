"""One DIP cumulative call, whatever the web framework: authenticate, validate, merge,
publish, save, answer. Every outcome is an ``Answer``; nothing raises out of ``handle``.

Order of checks: on the headers alone, before a byte of the body is read (``admit``):
token (401) -> declared size (413); then the body is read with the limit and a timeout
(413, 408; ``connectors.sdk.body``); then path ids (422) -> JSON (400) -> fields and
their ranges (422) -> event time in the window (422) -> merge with the performance's
known parts, whose sums the contract must carry (422) -> Kafka acknowledges the snapshot
and the saved parts (200; 503 with Retry-After when it does not). Bad input is
dead-lettered to ``ticketing.snapshots.dlq`` (the SDK's publisher keeps the first bytes
of a body larger than Kafka takes; 503 if even that fails, so the caller retries and
nothing is dropped). A snapshot lower than the previous one is accepted: it is a refund,
and downstream derives a negative delta. Reading what is held (``current``) needs the
token too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from prometheus_client import Counter
from pydantic import SecretStr, ValidationError

from bus.errors import RetriableError
from bus.log import get_logger
from bus.topics import SNAPSHOTS
from connectors.sdk.body import BodyError, declared_too_large
from connectors.sdk.context import ConnectorContext
from connectors.sdk.errors import MappingError
from connectors.sdk.records import DeadLetter, SourceRecord
from connectors.ticketing.dip.book import Parts, SnapshotBook, build_snapshot
from connectors.ticketing.dip.openapi import NUMBER_PATTERN, PRODUCTION_PATTERN
from connectors.ticketing.dip.payloads import INT_MAX, LONG_MAX, PARTS, BadJson, parse_body
from schemas.models import Identifier, utcnow

__all__ = ["Answer", "DipReceiver"]

log = get_logger(__name__)
_PRODUCTION = re.compile(PRODUCTION_PATTERN)  # what the OpenAPI document promises
_NUMBER = re.compile(NUMBER_PATTERN)
#: The input field that carries each call's numbers (named when their sums overflow).
_FIELD = {"tickets": "body", "reservations": "reservations", "blocked-seats": "blockedSeats",
          "capacity": "capacity"}


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a call."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _unavailable(message: str, retry_after: float) -> Answer:
    return Answer(503, {"status": "unavailable", "error": message},
                  {"Retry-After": str(max(1, int(round(retry_after))))})


_UNAUTHORISED = Answer(401, {"status": "rejected", "error": "missing or wrong bearer token: send "
                             "Authorization: Bearer <token>", "field": "headers.authorization"},
                       {"WWW-Authenticate": "Bearer"})


def _refusal(exc: MappingError, status: int, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, {"status": "rejected", "error": str(exc), "field": exc.field},
                  headers or {})


def _performance(production: str, number: str) -> Identifier:
    """The DIP identifier of the path's ids.

    Raises:
        MappingError: an id is not a DIP id (``field`` ``path.production``/``path.number``).

    """
    if not _PRODUCTION.match(production):
        raise MappingError(f"production id {production[:70]!r} is not a DIP production id "
                           "such as NL-23-1234-5", field="path.production")
    if not _NUMBER.match(number):
        raise MappingError(f"performance number {number[:20]!r} is not a DIP performance number "
                           "(a whole number of at most five digits, e.g. 00003)",
                           field="path.number")
    try:
        return Identifier.dip(production, int(number))
    except ValueError as exc:
        raise MappingError(str(exc), field="path.number") from None


def _overflow(parts: Parts, part: str) -> MappingError | None:
    """Why the contract (and what downstream sums of it) cannot carry these parts, if so."""
    seats, cents = parts.totals()
    if seats > INT_MAX:
        return MappingError(f"with this call the performance would hold {seats} seats (tickets, "
                            f"reservations and blocked seats together), over the contract's "
                            f"{INT_MAX}; send this performance's cumulative numbers",
                            field=_FIELD[part])
    if cents > LONG_MAX:
        return MappingError(f"with this call the performance's amounts add up to {cents} cents, "
                            f"over the contract's {LONG_MAX}; send amounts in euro cents",
                            field=_FIELD[part])
    return None


def _parts_view(parts: Parts) -> dict[str, Any]:
    return {"tickets": {k.lower(): {"tickets": t, "recette": c} for k, (t, c) in parts.lines.items()}
            if parts.lines is not None else None,
            "reservations": {"reservations": parts.reservations[0], "value": parts.reservations[1]}
            if parts.reservations else None,
            "blockedSeats": {"blockedSeats": parts.blocked[0], "value": parts.blocked[1]}
            if parts.blocked else None,
            "capacity": parts.capacity}


class DipReceiver:
    """Lifecycle: built around an opened ``ConnectorContext``; ``handle`` per call (blocking:
    web frameworks run it in a worker thread); nothing to close.

    Args:
        ctx: the connector context (publisher, positions, metrics).
        account: names the ticketing system/theatre in facts (``source_account``).
        book: the performances' known parts.
        token: when set, calls must carry ``Authorization: Bearer <token>``.
        currency: of every amount.
        body_timeout_s: how long a body may take to arrive (default:
            ``connector.body_timeout_s``).

    """

    def __init__(self, ctx: ConnectorContext, account: str, book: SnapshotBook, *,
                 token: SecretStr | None = None, currency: str = "EUR",
                 body_timeout_s: float | None = None) -> None:
        self.ctx = ctx
        self.account = account
        self.book = book
        self.token = token
        self.currency = currency
        self.max_body = ctx.settings.connector.max_body_bytes
        self.body_timeout_s = (ctx.settings.connector.body_timeout_s if body_timeout_s is None
                               else body_timeout_s)
        self.calls = Counter("cultuurbus_dip_calls", "DIP cumulative calls answered, by part "
                             "and HTTP status.", ["part", "status"], registry=ctx.metrics_registry)

    def handle(self, part: str, production: str, number: str, body: bytes,
               authorization: str | None = None) -> Answer:
        """Answer one ``PUT`` of ``part``; never raises."""
        try:
            answer = self._handle(part, production, number, body, authorization)
        except Exception:  # noqa: BLE001 - last line: log, answer 500, keep serving
            log.exception("dip call failed", extra={"part": part, "production": production,
                                                    "number": number})
            answer = Answer(500, {"status": "error", "error": "internal error; the call was not "
                                  "accepted, send it again"})
        self.calls.labels(part, str(answer.status)).inc()
        return answer

    def admit(self, part: str, authorization: str | None,
              content_length: str | None) -> Answer | None:
        """The answer to a ``PUT`` refused on its headers alone (unknown call, no token,
        declared body over the limit), before its body is read; ``None`` to read on."""
        answer = self._refused(part, authorization)
        if answer is None:
            too_large = declared_too_large(content_length, self.max_body)
            if too_large is not None:
                answer = _refusal(too_large, 413)
        if answer is not None:
            self.calls.labels(part, str(answer.status)).inc()
        return answer

    def unread(self, part: str, exc: BodyError) -> Answer:
        """The answer to a call whose body could not be read (too large, too slow)."""
        log.warning("dip call refused: body not read", extra={"part": part, "status": exc.status,
                                                              "error": str(exc)[:300]})
        answer = _refusal(exc, exc.status, {"Connection": "close"})
        self.calls.labels(part, str(answer.status)).inc()
        return answer

    def current(self, production: str, number: str, authorization: str | None = None) -> Answer:
        """What this connector holds for a performance (``GET .../cumulative``)."""
        if not self._authorised(authorization):
            return _UNAUTHORISED
        try:
            dip = _performance(production, number)
        except MappingError as exc:
            return _refusal(exc, 422)
        try:
            parts = self.book.get(dip.key)
        except RetriableError as exc:
            return _unavailable(f"cannot read stored parts: {exc}", exc.retry_after)
        return Answer(200, {"performance": dip.key, **_parts_view(parts)})

    # -- steps --------------------------------------------------------------------------
    def _authorised(self, authorization: str | None) -> bool:
        if self.token is None:
            return True
        expected = f"Bearer {self.token.get_secret_value()}"
        return hmac.compare_digest((authorization or "").encode(), expected.encode())

    def _refused(self, part: str, authorization: str | None) -> Answer | None:
        if part not in PARTS:
            return Answer(404, {"status": "rejected", "error": f"unknown call {part!r}; known: "
                                f"{', '.join(PARTS)}", "field": "path"})
        if not self._authorised(authorization):
            return _UNAUTHORISED
        return None

    def _handle(self, part: str, production: str, number: str, body: bytes,
                authorization: str | None) -> Answer:
        refused = self._refused(part, authorization)
        if refused is not None:
            return refused
        if len(body) > self.max_body:
            return Answer(413, {"status": "rejected", "error": f"body of {len(body)} bytes is over "
                                f"the limit of {self.max_body}", "field": "body"})
        where = f"PUT /productions/{production}/performances/{number}/{part}"
        self.ctx.metrics.records_in.labels(self.ctx.name).inc()
        try:
            dip = _performance(production, number)
            parsed = parse_body(part, body)
            if parsed.updated is not None:
                self.ctx.window.check(parsed.updated, "updated")
        except MappingError as exc:
            return self._reject(exc, body, where, 400 if isinstance(exc, BadJson) else 422)
        received = utcnow()
        event_time = (parsed.updated or received).astimezone(UTC)
        stamp = int(event_time.timestamp() * 1000)
        fact_id = (f"dip:{self.account}:{dip.value}:{part}:{stamp}:"
                   f"{hashlib.sha256(body).hexdigest()[:12]}")
        with self.book.lock(dip.key):
            try:
                merged = self.book.get(dip.key).with_body(part, parsed)
                overflow = _overflow(merged, part)
                if overflow is not None:
                    return self._reject(overflow, body, where, 422)
                try:
                    snapshot = build_snapshot(dip, merged, fact_id=fact_id, event_time=event_time,
                                              account=self.account, currency=self.currency)
                except ValidationError as exc:
                    return self._reject(MappingError.unsatisfied(exc, "snapshot"), body, where, 422)
                t0 = time.monotonic()
                self.ctx.publisher.publish([SourceRecord(SNAPSHOTS, dip.key, snapshot)])
                self.book.save(dip.key, merged)
            except RetriableError as exc:
                log.warning("dip call not accepted: Kafka unavailable", extra={
                    "performance": dip.key, "part": part, "error": str(exc)[:300]})
                return _unavailable(f"Kafka did not acknowledge the snapshot: {exc}; send the "
                                    "call again", exc.retry_after)
        log.info("dip snapshot published", extra={"performance": dip.key, "part": part,
                                                  "fact_id": fact_id,
                                                  "ms": round((time.monotonic() - t0) * 1000)})
        return Answer(200, {"status": "accepted", "performance": dip.key, "fact_id": fact_id,
                            "event_time": event_time.isoformat(), **_parts_view(merged)})

    def _reject(self, exc: MappingError, body: bytes, where: str, status: int) -> Answer:
        letter = DeadLetter(SNAPSHOTS, body, exc, stage="parse" if status == 400 else "mapping",
                            where=where)
        try:
            self.ctx.publisher.publish([letter])
        except RetriableError as err:
            return _unavailable(f"the call is invalid ({exc}) but could not be dead-lettered: "
                                f"{err}; send it again", err.retry_after)
        log.warning("dip call rejected", extra={"where": where, "status": status,
                                                "field": exc.field, "error": str(exc)[:300]})
        return Answer(status, {"status": "rejected", "error": str(exc), "field": exc.field,
                               "dead_lettered": True})

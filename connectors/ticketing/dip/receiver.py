"""One DIP cumulative call, whatever the web framework: authenticate, validate, merge,
publish, save, answer. Every outcome is an ``Answer``; nothing raises out of ``handle``
(blocking) or ``handle_async`` (what the web app awaits: no worker thread per call).

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

import asyncio
import hashlib
import hmac
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


_FAILED = Answer(500, {"status": "error", "error": "internal error; the call was not accepted, "
                        "send it again"})
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
    """Lifecycle: built around an opened ``ConnectorContext``; ``handle_async`` per call on
    an event loop (the web app), or ``handle`` (blocking) from threads; nothing to close.

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
            answer = _failed(part, production, number)
        return self._counted(part, answer)

    def _counted(self, part: str, answer: Answer) -> Answer:
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

    def _judge(self, part: str, production: str, number: str, body: bytes,
               authorization: str | None) -> Answer | _Call | _Rejection:
        """A call on its own (token, size, path ids, JSON, fields, event time): its answer
        when refused here, what to dead-letter when its input is bad, else the call."""
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
            return _Rejection(exc, body, where, 400 if isinstance(exc, BadJson) else 422)
        received = utcnow()
        event_time = (parsed.updated or received).astimezone(UTC)
        stamp = int(event_time.timestamp() * 1000)
        fact_id = (f"dip:{self.account}:{dip.value}:{part}:{stamp}:"
                   f"{hashlib.sha256(body).hexdigest()[:12]}")
        return _Call(part, dip, parsed, body, where, fact_id, event_time)

    def _merge(self, call: _Call) -> tuple[Parts, SourceRecord] | _Rejection:
        """The performance's parts with the call's merged in and their snapshot (under the
        performance's lock), or what to dead-letter when the contract cannot carry them.

        Raises:
            RetriableError: the stored parts could not be read.

        """
        merged = self.book.get(call.dip.key).with_body(call.part, call.parsed)
        overflow = _overflow(merged, call.part)
        if overflow is not None:
            return _Rejection(overflow, call.body, call.where, 422)
        try:
            snapshot = build_snapshot(call.dip, merged, fact_id=call.fact_id,
                                      event_time=call.event_time, account=self.account,
                                      currency=self.currency)
        except ValidationError as exc:
            return _Rejection(MappingError.unsatisfied(exc, "snapshot"), call.body, call.where, 422)
        return merged, SourceRecord(SNAPSHOTS, call.dip.key, snapshot)

    def _handle(self, part: str, production: str, number: str, body: bytes,
                authorization: str | None) -> Answer:
        call = self._judge(part, production, number, body, authorization)
        if not isinstance(call, _Call):
            return call if isinstance(call, Answer) else self._reject(call)
        t0 = time.monotonic()
        with self.book.lock(call.dip.key):
            try:
                made = self._merge(call)
                if isinstance(made, _Rejection):
                    return self._reject(made)
                self.ctx.publisher.publish([made[1]])
                self.book.save(call.dip.key, made[0])
            except RetriableError as exc:
                return _not_acknowledged(call, exc)
        return _accepted(call, made[0], t0)

    async def handle_async(self, part: str, production: str, number: str, body: bytes,
                           authorization: str | None = None) -> Answer:
        """``handle`` for an asyncio server (waits for Kafka without a worker thread); never
        raises. One receiver serves either ``handle`` or ``handle_async`` callers: a
        performance's lock is a thread lock for the one, an asyncio lock for the other."""
        try:
            answer = await self._handle_async(part, production, number, body, authorization)
        except Exception:  # noqa: BLE001 - last line: log, answer 500, keep serving
            answer = _failed(part, production, number)
        return self._counted(part, answer)

    async def _handle_async(self, part: str, production: str, number: str, body: bytes,
                            authorization: str | None) -> Answer:
        call = self._judge(part, production, number, body, authorization)
        if not isinstance(call, _Call):
            return call if isinstance(call, Answer) else await self._reject_async(call)
        t0 = time.monotonic()
        async with self.book.alock(call.dip.key):
            try:
                if not self.book.loaded:  # reading Kafka once: off the event loop
                    await asyncio.to_thread(self.book.load)
                made = self._merge(call)
                if isinstance(made, _Rejection):
                    return await self._reject_async(made)
                await self.ctx.publisher.publish_async([made[1]])
                await self.book.save_async(call.dip.key, made[0])
            except RetriableError as exc:
                return _not_acknowledged(call, exc)
        return _accepted(call, made[0], t0)

    def _reject(self, bad: _Rejection) -> Answer:
        try:
            self.ctx.publisher.publish([bad.letter()])
        except RetriableError as err:
            return bad.not_dead_lettered(err)
        return bad.answer()

    async def _reject_async(self, bad: _Rejection) -> Answer:
        try:
            await self.ctx.publisher.publish_async([bad.letter()])
        except RetriableError as err:
            return bad.not_dead_lettered(err)
        return bad.answer()


@dataclass(frozen=True)
class _Call:
    """A call that passed every check on its own, ready to merge."""

    part: str
    dip: Identifier
    parsed: Any
    body: bytes
    where: str
    fact_id: str
    event_time: datetime


@dataclass(frozen=True)
class _Rejection:
    """Bad input: dead-letter the body, then answer ``status``."""

    exc: MappingError
    body: bytes
    where: str
    status: int

    def letter(self) -> DeadLetter:
        return DeadLetter(SNAPSHOTS, self.body, self.exc,
                          stage="parse" if self.status == 400 else "mapping", where=self.where)

    def not_dead_lettered(self, err: RetriableError) -> Answer:
        return _unavailable(f"the call is invalid ({self.exc}) but could not be dead-lettered: "
                            f"{err}; send it again", err.retry_after)

    def answer(self) -> Answer:
        exc = self.exc
        log.warning("dip call rejected", extra={"where": self.where, "status": self.status,
                                                "field": exc.field, "error": str(exc)[:300]})
        return Answer(self.status, {"status": "rejected", "error": str(exc), "field": exc.field,
                                    "dead_lettered": True})


def _failed(part: str, production: str, number: str) -> Answer:
    log.exception("dip call failed", extra={"part": part, "production": production,
                                            "number": number})
    return _FAILED


def _not_acknowledged(call: _Call, exc: RetriableError) -> Answer:
    log.warning("dip call not accepted: Kafka unavailable", extra={
        "performance": call.dip.key, "part": call.part, "error": str(exc)[:300]})
    return _unavailable(f"Kafka did not acknowledge the snapshot: {exc}; send the call again",
                        exc.retry_after)


def _accepted(call: _Call, merged: Parts, t0: float) -> Answer:
    log.info("dip snapshot published", extra={"performance": call.dip.key, "part": call.part,
                                              "fact_id": call.fact_id,
                                              "ms": round((time.monotonic() - t0) * 1000)})
    return Answer(200, {"status": "accepted", "performance": call.dip.key, "fact_id": call.fact_id,
                        "event_time": call.event_time.isoformat(), **_parts_view(merged)})

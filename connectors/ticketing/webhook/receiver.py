"""What happens to one delivery, whatever the web framework: authenticate, read, map,
publish, answer. Every outcome is an ``Answer``; nothing raises out of ``handle``.

Order of checks: vendor known (404) -> the account has a credential, its mode
(``auth.py``; 404 naming the settings to add) -> Stager's peer address within
``stager_allow_from`` (403) -> URL token or OpenTicket nonce (401; a token in the URL of
an account that takes none: 404) -> body within the limit and the time allowed to send
it (413, 408; ``connectors.sdk.body``) -> mode hmac: signature over the signed content,
for Eventix including the trigger header (401) -> JSON, text only (400 + dead letter) ->
mapping, contract limits and the event-time window (422 + dead letter, naming the input
field; 503 when a vendor API must be fetched and does not answer) -> replay, recognised
by body content (+ Eventix's trigger) only (200 duplicate) -> Kafka acknowledges (200;
503 with Retry-After when it does not). A delivery straight from OpenTicket (Eventix in
mode openticket-nonce or url-token) is answered 429 instead of 503: OpenTicket retries a
delivery only when the answer is a 4xx, so a 503 would never come again. A dead letter
of a body larger than Kafka takes keeps its first bytes (the SDK's publisher says so in headers).

Eventbrite, in every mode, is only a pointer: nothing of its body is published, only
what the receiver fetched from an allowed API host with the account's token (a fetch
that fails is a 503, an ``api_url`` off the allow-list a 422 + dead letter). A URL token
never leaves the request: not in logs, metrics, answers or dead-letter headers, and it
is masked in a dead letter's bytes (Eventbrite echoes its ``endpoint_url`` in the body).

Whatever a mapping raises on hostile input is a 4xx and a dead letter, never a 500: a
500 would have the vendor retry a body that can never succeed, and nothing would keep it.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from bus.errors import DeliveryError, RetriableError
from bus.log import get_logger
from bus.topics import SNAPSHOTS, TICKET_EVENTS
from connectors.sdk.body import BodyError, read_body
from connectors.sdk.context import ConnectorContext
from connectors.sdk.errors import MappingError
from connectors.sdk.identifiers import IdFields
from connectors.sdk.jsonbody import BadJson, load_json
from connectors.sdk.records import DeadLetter
from connectors.ticketing.webhook import eventbrite, eventix, stager
from connectors.ticketing.webhook.auth import AccountAuth, check_delivery, check_settings, missing, resolve
from connectors.ticketing.webhook.dedupe import DeliveryMemory
from connectors.ticketing.webhook.errors import (
    BadSignature,
    UnknownAccount,
    UnknownVendor,
    WebhookError,
)
from connectors.ticketing.webhook.facts import Delivery, Mapped, MappingEnv
from connectors.ticketing.webhook.fetch import EventbriteClient
from connectors.ticketing.webhook.metrics import WebhookMetrics
from connectors.ticketing.webhook.settings import WebhookSettings
from connectors.ticketing.webhook.signing import SIGNATURE_HEADER, signed_content, verify
from connectors.ticketing.webhook.tickettypes import TicketTypeMapper
from schemas.models import utcnow

__all__ = ["ACCOUNT_PATTERN", "VENDORS", "Answer", "Receiver"]

log = get_logger(__name__)

Mapper = Callable[[Delivery, Any, MappingEnv], Awaitable[Mapped]]
#: What an account id in a webhook URL may be (it becomes part of identifiers and keys).
ACCOUNT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_ACCOUNT = re.compile(ACCOUNT_PATTERN)
#: What hostile input can make Python itself raise while mapping (huge numbers, deep or
#: odd structures): answered 422 and dead-lettered like any other mapping problem.
_HOSTILE = (RecursionError, ValueError, ArithmeticError, TypeError, KeyError, IndexError)


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a delivery."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    """Lifecycle: built by ``create_app`` around an opened ``ConnectorContext``;
    ``handle`` per request; ``aclose`` at shutdown (closes the Eventbrite client only,
    the context belongs to the caller).
    """

    def __init__(self, ctx: ConnectorContext, settings: WebhookSettings,
                 client: EventbriteClient) -> None:
        self.ctx = ctx
        self.settings = settings
        self.client = client
        self.max_body = ctx.settings.connector.max_body_bytes
        self.body_timeout_s = ctx.settings.connector.body_timeout_s
        self.window = ctx.window
        self.env = MappingEnv(settings, ctx.pseudonymiser,
                              TicketTypeMapper(settings.ticket_types,
                                               strict=settings.strict_ticket_types),
                              self.window,
                              IdFields.of(settings.id_fields).counting(ctx.metrics_registry,
                                                                       "webhook"),
                              {key: IdFields.of(spec).counting(ctx.metrics_registry, "webhook")
                               for key, spec in settings.account_id_fields.items()})
        self.memory = DeliveryMemory(settings.dedupe_size, settings.dedupe_ttl_s)
        self.metrics = WebhookMetrics.of(ctx.metrics_registry)

        async def _eventix(d: Delivery, p: Any, e: MappingEnv) -> Mapped:
            return eventix.map_eventix(d, p, e)

        async def _stager(d: Delivery, p: Any, e: MappingEnv) -> Mapped:
            return stager.map_stager(d, p, e)

        async def _eventbrite(d: Delivery, p: Any, e: MappingEnv) -> Mapped:
            return await eventbrite.map_eventbrite(d, p, e, self.client)

        self.vendors: dict[str, tuple[Mapper, str]] = {  # name -> (mapping, dead-letter topic)
            eventix.NAME: (_eventix, TICKET_EVENTS),
            eventbrite.NAME: (_eventbrite, TICKET_EVENTS),
            stager.NAME: (_stager, SNAPSHOTS),
        }
        check_settings(settings, VENDORS)

    async def handle(self, vendor: str, account: str, request: Request,
                     token: str | None = None) -> Answer:
        """Answer one delivery (``token``: the URL's last segment, if any); never raises."""
        t0 = time.monotonic()
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        label = vendor if vendor in self.vendors else "unknown"
        try:
            answer = await self._handle(vendor, account, request, request_id, token)
        except Exception:  # noqa: BLE001 - last line: log, answer 500, keep serving
            log.exception("webhook handler failed", extra={"vendor": vendor, "account": account,
                                                           "request_id": request_id})
            answer = Answer(500, {"status": "error", "error": "internal error; the delivery was "
                                  "not accepted, redeliver it", "request_id": request_id})
        self.metrics.deliveries.labels(label, str(answer.body.get("status")), str(answer.status)).inc()
        self.metrics.seconds.labels(label).observe(time.monotonic() - t0)
        return answer

    # -- steps --------------------------------------------------------------------------
    def _authenticate(self, vendor: str, account: str, token: str | None,
                      headers: Mapping[str, str], peer: str | None) -> AccountAuth:
        """The account's mode once everything but an HMAC (which needs the body) passed."""
        if vendor not in self.vendors:
            raise UnknownVendor(f"unknown vendor {vendor!r}; known vendors: "
                                f"{', '.join(sorted(self.vendors))}", field="vendor")
        if not _ACCOUNT.fullmatch(account):
            raise UnknownAccount("unknown account: an account id is 1 to 64 letters, digits, "
                                 "'.', '_' or '-', starting with a letter or digit",
                                 field="account")
        auth = resolve(self.settings, vendor, account)
        if auth is None:
            raise UnknownAccount(missing(vendor, account), field="account")
        check_delivery(self.settings, auth, vendor, account, token, headers, peer)
        return auth

    @staticmethod
    def _signed_trigger(vendor: str, headers: Mapping[str, str]) -> str | None:
        """The trigger header the signature covers (Eventix), else None."""
        if vendor != eventix.NAME:
            return None
        try:
            return eventix.trigger_of(headers)
        except MappingError as exc:  # no trigger, no signature to check: unauthenticated
            raise BadSignature(str(exc), field=exc.field) from None

    async def _handle(self, vendor: str, account: str, request: Request,
                      request_id: str, token: str | None) -> Answer:
        headers = _lower(request.headers)
        try:
            peer = request.client.host if request.client else None
            auth = self._authenticate(vendor, account, token, headers, peer)
            body = await read_body(request, self.max_body, self.body_timeout_s)
            if auth.mode == "hmac":
                trigger = self._signed_trigger(vendor, headers)
                problem = verify(auth.credential, body, headers.get(SIGNATURE_HEADER.lower()),
                                 trigger=trigger)
                if problem:
                    raise BadSignature(problem, field=f"headers.{SIGNATURE_HEADER}")
            else:  # the trigger is as trusted as the body; a missing one is the mapping's 422
                trigger = _trigger_or_none(vendor, headers)
        except (WebhookError, BodyError) as exc:
            self.ctx.metrics.records_failed.labels(self.ctx.name, type(exc).__name__).inc()
            log.info("delivery refused", extra={"vendor": vendor, "account": account,
                                                "status": exc.status, "error": str(exc),
                                                "request_id": request_id})
            return _rejected(exc.status, str(exc), exc.field, request_id)
        self.ctx.metrics.records_in.labels(self.ctx.name).inc()
        busy = _busy_status(vendor, auth.mode)
        delivery = Delivery(vendor, account, headers, body, utcnow(), request_id, trigger)
        mapper, dlq_topic = self.vendors[vendor]
        try:
            payload = load_json(body, text_only=True)
            mapped = await mapper(delivery, payload, self.env)
            self.window.check_records(mapped.records)  # the mappings check at input fields
        except BadJson as exc:
            return await self._dead_letter(delivery, dlq_topic, exc, 400, "parse", token, busy)
        except MappingError as exc:
            return await self._dead_letter(delivery, dlq_topic, exc, 422, "mapping", token, busy)
        except ValidationError as exc:  # a contract limit no mapping names an input field for
            return await self._dead_letter(delivery, dlq_topic, MappingError.unsatisfied(exc), 422,
                                           "mapping", token, busy)
        except RetriableError as exc:  # FetchFailed
            return _unavailable(str(exc), exc.retry_after, request_id, busy)
        except _HOSTILE as exc:
            log.exception("mapping raised on a delivery", extra={
                "vendor": vendor, "account": account, "request_id": request_id})
            err = MappingError(f"the delivery could not be mapped ({type(exc).__name__}); check "
                               "it against the documented body", field="body")
            return await self._dead_letter(delivery, dlq_topic, err, 422, "mapping", token, busy)
        if self.memory.seen(mapped.delivery_key):
            log.info("duplicate delivery", extra={"vendor": vendor, "account": account,
                                                  "what": mapped.what, "request_id": request_id})
            return Answer(200, {"status": "duplicate", "what": mapped.what,
                                "request_id": request_id})
        try:
            await self.ctx.publisher.publish_async(mapped.records)
        except DeliveryError as exc:
            return _unavailable(str(exc), exc.retry_after, request_id, busy)
        self.memory.remember(mapped.delivery_key)
        ids = [r.value.fact_id for r in mapped.records]  # type: ignore[attr-defined]
        log.info("delivery accepted", extra={"vendor": vendor, "account": account,
                                             "what": mapped.what, "facts": len(ids),
                                             "request_id": request_id})
        return Answer(200, {"status": "accepted", "what": mapped.what, "facts": len(ids),
                            "fact_ids": ids, "request_id": request_id})

    async def _dead_letter(self, delivery: Delivery, topic: str, exc: Exception, status: int,
                           stage: str, token: str | None, busy: int = 503) -> Answer:
        """Dead-letter the original bytes (once per identical body; a URL ``token`` in them
        masked), then answer ``status`` (``busy`` when not even the dead letter is safe)."""
        field_path = getattr(exc, "field", None)
        content = signed_content(delivery.body, delivery.trigger)
        key = "dlq/" + hashlib.sha256(
            f"{delivery.vendor}/{delivery.account}/".encode() + content).hexdigest()
        if not self.memory.seen(key):
            # The SDK masks personal data in dead letters, also in bodies that do not parse.
            where = f"{delivery.vendor}/{delivery.account} request {delivery.request_id}"
            if delivery.trigger is not None:  # not in the body: keep it with the letter
                where += f" trigger {delivery.trigger[:100]}"
            raw = delivery.body
            if token:
                raw = raw.replace(token.encode("utf-8", "surrogateescape"), b"<url-token>")
            letter = DeadLetter(topic, raw, exc, stage=stage, where=where)
            try:
                await self.ctx.publisher.publish_async([letter])
            except DeliveryError as err:  # not even the dead letter is safe: let them retry
                return _unavailable(str(err), err.retry_after, delivery.request_id, busy)
            self.memory.remember(key)
        log.warning("delivery rejected", extra={"vendor": delivery.vendor,
                                                "account": delivery.account, "status": status,
                                                "field": field_path, "error": str(exc)[:300],
                                                "request_id": delivery.request_id})
        answer = _rejected(status, str(exc), field_path, delivery.request_id)
        answer.body["dead_lettered"] = True
        return answer

    async def aclose(self) -> None:
        await self.client.aclose()


def _trigger_or_none(vendor: str, headers: Mapping[str, str]) -> str | None:
    """Eventix's trigger, None when missing or ambiguous (the mapping refuses it) or for
    another vendor."""
    if vendor != eventix.NAME:
        return None
    try:
        return eventix.trigger_of(headers)
    except MappingError:
        return None


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _rejected(status: int, message: str, field_path: str | None, request_id: str) -> Answer:
    return Answer(status, {"status": "rejected", "error": message, "field": field_path,
                           "request_id": request_id})


def _busy_status(vendor: str, mode: str) -> int:
    """What "not now, send it again" is for this sender: 429 for a delivery straight from
    OpenTicket (it retries 4xx answers only), 503 for everyone else (a signing relay too)."""
    return 429 if vendor == eventix.NAME and mode != "hmac" else 503


def _unavailable(message: str, retry_after: float, request_id: str, status: int = 503) -> Answer:
    seconds = max(1, int(round(retry_after)))
    return Answer(status, {"status": "unavailable", "error": message, "request_id": request_id},
                  {"Retry-After": str(seconds)})


VENDORS = (eventbrite.NAME, eventix.NAME, stager.NAME)

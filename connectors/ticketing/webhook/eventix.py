"""Eventix / OpenTicket deliveries -> ticket facts.

Headers (as OpenTicket sends them; ``X-Eventix-*`` spellings are accepted too):
``OpenTicket-Trigger`` names the trigger; the body does not, so the signature covers it
(``signing.signed_content``) and a receiver never acts on an unsigned trigger.
``OpenTicket-Identifier`` (the webhook's nonce) and ``OpenTicket-Dedupe-Key`` are not
signed, so neither decides anything: a replay is recognised by the hash of the signed
content (trigger + body), which a vendor retry repeats byte for byte.

Triggers handled (any other is refused with 422):

=========================  =========================================  ==========
trigger                    tickets                                    fact
=========================  =========================================  ==========
``order.paid``             every ticket of the order                  SOLD
``order.cancelled``        every ticket of the order                  CANCELLED
``order.refunded``         every ticket of the order                  REFUNDED
``order.ticket.refunded``  the ticket named by ``model.guid``         REFUNDED
``order.ticket.scanned``   the ticket named by ``model.guid``         SCANNED
=========================  =========================================  ==========

One fact per ticket; its id is derived from the ticket guid and the fact type, so a
replay, or the same ticket reported by two triggers (order.refunded and
order.ticket.refunded), always yields the same fact id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, StrictInt

from bus.topics import TICKET_EVENTS
from connectors.sdk.countries import iso_country_or_none
from connectors.sdk.errors import MappingError
from connectors.sdk.records import SourceRecord
from connectors.ticketing.webhook import facts
from connectors.ticketing.webhook.signing import signed_content
from schemas.models import Buyer, Identifier, TicketEvent, TicketEventType, utcnow

__all__ = ["NAME", "TRIGGERS", "TRIGGER_HEADERS", "EventixDelivery", "map_eventix", "trigger_of"]

NAME = "eventix"
TRIGGER_HEADERS = ("OpenTicket-Trigger", "X-Eventix-Trigger")

TRIGGERS: dict[str, tuple[TicketEventType, bool]] = {  # trigger -> (fact type, ticket-level)
    "order.paid": (TicketEventType.SOLD, False),
    "order.cancelled": (TicketEventType.CANCELLED, False),
    "order.refunded": (TicketEventType.REFUNDED, False),
    "order.ticket.refunded": (TicketEventType.REFUNDED, True),
    "order.ticket.scanned": (TicketEventType.SCANNED, True),
}


class EventixCustomer(facts.VendorModel):
    """Personal fields are read only to pseudonymise; none of them reaches Kafka."""

    guid: str | None = None
    firstname: str | None = None
    lastname: str | None = None
    email: str | None = None
    phone: str | None = None
    address: str | None = None
    postcode: str | None = None
    city: str | None = None
    country: str | None = None
    birthdate: str | None = None


class EventixMetadata(facts.VendorModel):
    name: str
    value: Any = None


class EventixEvent(facts.VendorModel):
    guid: str = Field(min_length=1)
    name: str | None = None
    start: facts.Time | None = None
    metadata: list[EventixMetadata] | dict[str, Any] = Field(default_factory=list)

    def custom_fields(self) -> dict[str, Any]:
        if isinstance(self.metadata, dict):
            return dict(self.metadata)
        return {m.name: m.value for m in self.metadata}


class EventixTicket(facts.VendorModel):
    guid: str = Field(min_length=1)
    event_id: str = Field(min_length=1)
    ticket_id: str | None = None  # the ticket (type) this order ticket was sold as
    ticket_name: str = Field(min_length=1)
    price: StrictInt = Field(ge=0, le=facts.LONG_MAX, description="Cents.")
    barcode: str | None = None
    status: str | None = None
    scanned_at: facts.Time | None = None


class EventixOrder(facts.VendorModel):
    guid: str = Field(min_length=1)
    status: str | None = None
    currency: str = "EUR"
    purchase_channel: str | None = None
    created_at: facts.Time | None = None
    customer: EventixCustomer | None = None
    events: list[EventixEvent] = Field(default_factory=list)
    tickets: list[EventixTicket] = Field(min_length=1)


class EventixSubject(facts.VendorModel):
    guid: str = Field(min_length=1)
    type: Literal["order", "ticket"]


class EventixDelivery(facts.VendorModel):
    """Body of an Eventix/OpenTicket delivery (OpenTicket envelope plus the order)."""

    meta: dict[str, Any] = Field(default_factory=dict)
    model: EventixSubject
    type: str | None = None
    time: facts.Time
    order: EventixOrder


def trigger_of(headers: Mapping[str, str]) -> str:
    """The trigger a delivery names (lower-case header names), which its signature covers.

    Raises:
        MappingError: no trigger header, or its two spellings disagree.

    """
    given = {name: headers.get(name.lower(), "").strip() for name in TRIGGER_HEADERS}
    values = {v for v in given.values() if v}
    if not values:
        raise MappingError(f"missing header {TRIGGER_HEADERS[0]}: it names the trigger, one of "
                           f"{', '.join(sorted(TRIGGERS))}, and the signature covers it",
                           field=f"headers.{TRIGGER_HEADERS[0]}")
    if len(values) > 1:
        raise MappingError(f"headers {' and '.join(TRIGGER_HEADERS)} name different triggers; "
                           f"send {TRIGGER_HEADERS[0]} only", field=f"headers.{TRIGGER_HEADERS[1]}")
    return values.pop()


def map_eventix(delivery: facts.Delivery, payload: Any, env: facts.MappingEnv) -> facts.Mapped:
    """The ticket facts of one Eventix delivery.

    Raises:
        MappingError: unknown trigger, missing/wrong field, event time outside the
            window, a value the contract cannot carry, unknown ticket type (strict).

    """
    trigger = trigger_of(delivery.headers)
    if trigger not in TRIGGERS:
        raise MappingError(f"unsupported trigger {trigger!r} in {TRIGGER_HEADERS[0]}; this "
                           f"receiver handles {', '.join(sorted(TRIGGERS))}",
                           field=f"headers.{TRIGGER_HEADERS[0]}")
    event_type, ticket_level = TRIGGERS[trigger]
    body: EventixDelivery = facts.parse(EventixDelivery, payload)
    facts.check_time(env, body.time, "time")
    order = body.order
    tickets = list(enumerate(order.tickets))
    if ticket_level and body.model.type == "ticket":
        tickets = [(i, t) for i, t in tickets if t.guid == body.model.guid]
        if not tickets:
            raise MappingError(f"model.guid names a ticket that is not in order.tickets "
                               f"(trigger {trigger})", field="model.guid")
    account = delivery.account
    events = {e.guid: e for e in order.events}
    buyer = _buyer(order.customer, account, env)
    ingested = utcnow()
    records = []
    for i, ticket in tickets:
        where = f"order.tickets[{i}]"
        primary = Identifier.vendor(NAME, account, ticket.event_id)
        identifiers = [primary]
        event = events.get(ticket.event_id)
        if event is not None:
            identifiers += facts.custom_identifiers(event.custom_fields(), env, event.start,
                                                    f"order.events[{ticket.event_id}].metadata",
                                                    f"{NAME}/{account}")
        scanned = event_type is TicketEventType.SCANNED and ticket.scanned_at is not None
        when = ticket.scanned_at if scanned and ticket.scanned_at else body.time
        when_field = f"{where}.scanned_at" if scanned else "time"
        facts.check_time(env, when, when_field)
        inputs = {"event_time": when_field, "price_cents": f"{where}.price",
                  "currency": "order.currency", "order_id": "order.guid",
                  "ticket_ids": f"{where}.guid", "channel": "order.purchase_channel",
                  "performance_key": f"{where}.event_id", "identifiers": f"{where}.event_id",
                  "ticket_type": f"{where}.ticket_name", "buyer": "order.customer",
                  "source_account": "account"}
        fact = facts.contract(
            TicketEvent, inputs, fact_id=facts.fact_id(NAME, account, ticket.guid, event_type.value),
            event_time=when, ingested_at=ingested, source_system=NAME, source_account=account,
            performance_key=primary.key, identifiers=identifiers, event_type=event_type,
            quantity=1,
            ticket_type=env.ticket_types(ticket.ticket_name, ticket.price,
                                         field=f"{where}.ticket_name"),
            price_cents=ticket.price, currency=order.currency, order_id=order.guid,
            ticket_ids=[ticket.guid], channel=order.purchase_channel, buyer=buyer)
        records.append(SourceRecord(TICKET_EVENTS, primary.key, fact))
    replay = hashlib.sha256(signed_content(delivery.body, trigger)).hexdigest()
    return facts.Mapped(records, f"{NAME}/{account}/{replay}", trigger)


def _buyer(customer: EventixCustomer | None, account: str, env: facts.MappingEnv) -> Buyer | None:
    if customer is None:
        return None
    cid = customer.guid or (customer.email or "").strip().lower() or None
    country = iso_country_or_none(customer.country, "order.customer.country")
    try:
        return env.pseudonymiser.buyer(f"{NAME}:{account}", cid, postcode=customer.postcode,
                                       country=country,
                                       birthdate=customer.birthdate)
    except MappingError as exc:  # the SDK names the contract field; name the input's
        raise MappingError(str(exc).replace("buyer.birthdate", "order.customer.birthdate"),
                           field="order.customer.birthdate") from None

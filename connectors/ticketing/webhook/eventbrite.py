"""Eventbrite deliveries -> ticket facts and performances.

A delivery carries no data, only what changed and where to read it::

    {"config": {"action": "order.placed", "user_id": "...", "endpoint_url": "...",
                "webhook_id": "..."},
     "api_url": "https://www.eventbriteapi.com/v3/orders/1234567890/"}

The receiver fetches ``api_url`` (orders with ``expand=attendees``, events with
``expand=venue``) and maps the resource. One attendee is one ticket:

======================  ==================================================  ============
action                  attendees                                           facts
======================  ==================================================  ============
``order.placed``        every attendee of the order                         SOLD
                        and, for one flagged refunded / cancelled, also     + REFUNDED /
                                                                            CANCELLED
``order.updated``       as ``order.placed``                                 as above
``order.refunded``      attendees flagged refunded (all when none is)       SOLD +
                                                                            REFUNDED
``attendee.checked_in`` the attendee fetched                                SCANNED
``event.updated``       (the event)                                         Performance
======================  ==================================================  ============

Every order action maps the order as it is when fetched, whatever the order of the
deliveries: a refunded or cancelled attendee yields its sale (at ``created``) and its
refund or cancellation (at ``changed``), so an order refunded before ``order.placed``
was fetched still nets to zero. Fact ids come from the attendee id and the fact type,
so a fact repeated by a later action (or a replay) keeps its id and is deduplicated
downstream; a refund and a cancellation of one attendee share one id (a ticket is undone
once: an attendee cancelled and later refunded takes its sale back once, not twice).
A check-in is dated when the ticket was used: the ``changed`` time of the attendee's
barcode whose ``status`` is ``used`` (the latest, if several), else the time the delivery
arrived. Never the attendee's own ``changed``: real answers leave it at the purchase.
Replays are recognised by the resource id, the action and the resource's ``changed``
time. Buyers are pseudonymised from the attendee's e-mail address (keyed
HMAC), postcode area, country and birth year. Countries (the buyer's home, the venue's
address) are ISO codes or names (``connectors.sdk.countries``); any other value is
refused (422) naming it. A venue address without a country leaves ``Venue.country``
empty (unknown, never guessed); a buyer without one has none.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, StrictBool, StrictInt

from bus.topics import PERFORMANCES, TICKET_EVENTS
from connectors.sdk.countries import iso_country_or_none
from connectors.sdk.errors import MappingError
from connectors.sdk.records import SourceRecord
from connectors.ticketing.webhook import facts
from connectors.ticketing.webhook.fetch import EventbriteClient
from schemas.models import (
    Buyer,
    Identifier,
    Performance,
    PerformanceStatus,
    TicketEvent,
    TicketEventType,
    Venue,
    utcnow,
)

__all__ = ["ACTIONS", "NAME", "EventbriteAttendee", "EventbriteDelivery", "EventbriteEvent",
           "EventbriteOrder", "map_eventbrite"]

NAME = "eventbrite"
ACTIONS = ("order.placed", "order.updated", "order.refunded", "attendee.checked_in",
           "event.updated")


class EventbriteConfig(facts.VendorModel):
    action: str = Field(min_length=1, json_schema_extra={"enum": list(ACTIONS)},
                        description="Any other action is refused (422).")
    user_id: str | None = None
    endpoint_url: str | None = None
    webhook_id: str | None = None


class EventbriteDelivery(facts.VendorModel):
    """Body of an Eventbrite delivery."""

    config: EventbriteConfig
    api_url: str = Field(min_length=1)


class Money(facts.VendorModel):
    currency: str = "EUR"
    value: StrictInt = Field(ge=0, le=facts.LONG_MAX, description="Minor units (cents).")
    major_value: str | None = None
    display: str | None = None


class Costs(facts.VendorModel):
    base_price: Money
    gross: Money | None = None
    eventbrite_fee: Money | None = None
    payment_fee: Money | None = None
    tax: Money | None = None


class Address(facts.VendorModel):
    address_1: str | None = None
    address_2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


class Addresses(facts.VendorModel):
    home: Address | None = None


class Profile(facts.VendorModel):
    """Read only to pseudonymise; none of these values reaches Kafka."""

    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    email: str | None = None
    cell_phone: str | None = None
    birth_date: str | None = None
    addresses: Addresses | None = None


class Barcode(facts.VendorModel):
    """One entry barcode of an attendee; ``status`` is ``unused`` or ``used``."""

    barcode: str | None = None
    status: str | None = None
    created: facts.Time | None = None
    changed: facts.Time | None = None


class EventbriteAttendee(facts.VendorModel):
    id: str = Field(min_length=1)
    event_id: str = Field(min_length=1)
    order_id: str = Field(min_length=1)
    created: facts.Time
    changed: facts.Time
    ticket_class_id: str | None = None
    ticket_class_name: str = Field(min_length=1)
    quantity: StrictInt = Field(default=1, ge=1, le=100_000)
    costs: Costs
    profile: Profile | None = None
    barcodes: list[Barcode] = Field(default_factory=list)
    checked_in: StrictBool = False
    cancelled: StrictBool = False
    refunded: StrictBool = False
    status: str | None = None


class EventbriteOrder(facts.VendorModel):
    id: str = Field(min_length=1)
    event_id: str = Field(min_length=1)
    status: str | None = None
    created: facts.Time
    changed: facts.Time
    email: str | None = None
    attendees: list[EventbriteAttendee] = Field(min_length=1)


class MultipartText(facts.VendorModel):
    text: str = Field(min_length=1)


class DateTimeTz(facts.VendorModel):
    timezone: str | None = None
    utc: facts.Time


class EventbriteVenue(facts.VendorModel):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    address: Address | None = None


class EventbriteEvent(facts.VendorModel):
    id: str = Field(min_length=1)
    name: MultipartText
    start: DateTimeTz
    end: DateTimeTz | None = None
    url: str | None = None
    status: str | None = None
    capacity: StrictInt | None = Field(default=None, ge=0, le=facts.INT_MAX)
    changed: facts.Time
    online_event: StrictBool = False
    venue: EventbriteVenue | None = None


def _buyer(att: EventbriteAttendee, order_email: str | None, account: str,
           env: facts.MappingEnv, where: str) -> Buyer | None:
    profile = att.profile or Profile()
    email = (profile.email or order_email or "").strip().lower() or None
    home = profile.addresses.home if profile.addresses else None
    country = iso_country_or_none(home.country if home else None,
                                  f"{where}.profile.addresses.home.country")
    try:
        return env.pseudonymiser.buyer(f"{NAME}:{account}", email,
                                       postcode=home.postal_code if home else None,
                                       country=country,
                                       birthdate=profile.birth_date)
    except MappingError as exc:  # the SDK names the contract field; name the input's
        field = f"{where}.profile.birth_date"
        raise MappingError(str(exc).replace("buyer.birthdate", field), field=field) from None


# A ticket is undone once: a cancellation and a later refund of the same attendee are one
# fact (the first to arrive counts), not two that would take the sale back twice.
_ID_KIND = {TicketEventType.REFUNDED: "undone", TicketEventType.CANCELLED: "undone"}


def _scan_time(att: EventbriteAttendee, where: str, received_at: datetime) -> tuple[datetime, str]:
    """When the attendee went in, and the field that says so: the latest ``changed`` of a
    ``used`` barcode, else the delivery's arrival (Eventbrite calls as the scan happens)."""
    used = [(b.changed, i) for i, b in enumerate(att.barcodes)
            if b.changed is not None and (b.status or "").strip().lower() == "used"]
    if not used:
        return received_at, "received_at"
    at, i = max(used)
    return at, f"{where}.barcodes[{i}].changed"


def _ticket(att: EventbriteAttendee, kind: TicketEventType,
            when: Literal["created", "changed"] | tuple[datetime, str], where: str,
            account: str, env: facts.MappingEnv, order_email: str | None = None) -> SourceRecord:
    """One ticket fact of ``att`` at its ``when`` time: ``created``, ``changed``, or a
    time and the field it came from (a scan's)."""
    primary = Identifier.vendor(NAME, account, att.event_id)
    price = att.costs.base_price
    if isinstance(when, tuple):
        at, time_field = when
    else:
        at, time_field = (att.created if when == "created" else att.changed), f"{where}.{when}"
    facts.check_time(env, at, time_field)
    inputs = {"event_time": time_field, "price_cents": f"{where}.costs.base_price.value",
              "currency": f"{where}.costs.base_price.currency", "order_id": f"{where}.order_id",
              "ticket_ids": f"{where}.id", "quantity": f"{where}.quantity",
              "performance_key": f"{where}.event_id", "identifiers": f"{where}.event_id",
              "buyer": f"{where}.profile", "source_account": "account"}
    fact = facts.contract(
        TicketEvent, inputs,
        fact_id=facts.fact_id(NAME, account, att.id, _ID_KIND.get(kind, kind.value)), event_time=at,
        ingested_at=utcnow(), source_system=NAME, source_account=account,
        performance_key=primary.key,
        identifiers=[primary, Identifier.vendor_global(NAME, att.event_id)], event_type=kind,
        quantity=att.quantity,
        ticket_type=env.ticket_types(att.ticket_class_name, price.value,
                                     field=f"{where}.ticket_class_name"),
        price_cents=price.value, currency=price.currency.upper(), order_id=att.order_id,
        ticket_ids=[att.id], channel=NAME, buyer=_buyer(att, order_email, account, env, where))
    return SourceRecord(TICKET_EVENTS, primary.key, fact)


def _order_records(action: str, order: EventbriteOrder, account: str,
                   env: facts.MappingEnv) -> list[SourceRecord]:
    """The sale of each attendee concerned and, when undone, its refund or cancellation.

    The result depends only on the action and the fetched order, never on which
    deliveries came before: an attendee already refunded when ``order.placed`` is
    fetched yields SOLD and REFUNDED, as ``order.refunded`` does for it.
    """
    out = []
    all_refunded = action == "order.refunded" and not any(a.refunded for a in order.attendees)
    for i, att in enumerate(order.attendees):
        refunded = att.refunded or all_refunded
        if action == "order.refunded" and not refunded:
            continue
        where = f"api_url.attendees[{i}]"
        out.append(_ticket(att, TicketEventType.SOLD, "created", where, account, env,
                           order.email))
        undone = (TicketEventType.REFUNDED if refunded
                  else TicketEventType.CANCELLED if att.cancelled else None)
        if undone is not None:
            out.append(_ticket(att, undone, "changed", where, account, env, order.email))
    return out


def _performance(event: EventbriteEvent, account: str, env: facts.MappingEnv) -> SourceRecord:
    primary = Identifier.vendor(NAME, account, event.id)
    facts.check_time(env, event.changed, "api_url.changed")
    facts.check_carried(event.start.utc, "api_url.start.utc")
    if event.end is not None:
        facts.check_carried(event.end.utc, "api_url.end.utc")
    if event.venue is not None:
        addr = event.venue.address or Address()
        country = iso_country_or_none(addr.country, "api_url.venue.address.country")
        venue = facts.contract(Venue, {"id": "api_url.venue.id", "name": "api_url.venue.name",
                                       "city": "api_url.venue.address.city",
                                       "postcode": "api_url.venue.address.postal_code"},
                               id=f"{NAME}:{event.venue.id}", name=event.venue.name, city=addr.city,
                               postcode=addr.postal_code, country=country)
    elif event.online_event:
        venue = Venue(id=f"{NAME}:online", name="Online")
    else:
        raise MappingError("event has neither a venue nor online_event; fetch it with "
                           "expand=venue", field="venue")
    status = (PerformanceStatus.CANCELLED if (event.status or "").lower() in ("canceled", "cancelled")
              else PerformanceStatus.SCHEDULED)
    inputs = {"event_time": "api_url.changed", "title": "api_url.name.text",
              "start": "api_url.start.utc", "end": "api_url.end.utc", "url": "api_url.url",
              "capacity": "api_url.capacity", "performance_key": "api_url.id",
              "identifiers": "api_url.id", "source_account": "account"}
    perf = facts.contract(
        Performance, inputs,
        fact_id=facts.fact_id(NAME, account, event.id, "performance", event.changed.isoformat()),
        event_time=event.changed, ingested_at=utcnow(), source_system=NAME,
        source_account=account, performance_key=primary.key,
        identifiers=[primary, Identifier.vendor_global(NAME, event.id)],
        title=event.name.text, venue=venue, start=event.start.utc,
        end=event.end.utc if event.end else None, capacity=event.capacity, status=status,
        url=event.url)
    return SourceRecord(PERFORMANCES, primary.key, perf)


async def map_eventbrite(delivery: facts.Delivery, payload: Any, env: facts.MappingEnv,
                         client: EventbriteClient) -> facts.Mapped:
    """Fetch what the delivery points to and map it.

    Raises:
        MappingError: bad envelope, unknown action, disallowed api_url, bad resource.
        FetchFailed: the Eventbrite API did not answer (answer 503).

    """
    body: EventbriteDelivery = facts.parse(EventbriteDelivery, payload)
    action = body.config.action
    if action not in ACTIONS:
        raise MappingError(f"unsupported action {action!r} in config.action; this receiver "
                           f"handles {', '.join(ACTIONS)}", field="config.action")
    url = client.check_url(body.api_url)
    account = delivery.account
    if action.startswith("order."):
        order: EventbriteOrder = facts.parse(EventbriteOrder,
                                             await client.get(url, account, "attendees"), "api_url")
        records = _order_records(action, order, account, env)
        rid, changed = order.id, order.changed
    elif action == "attendee.checked_in":
        att: EventbriteAttendee = facts.parse(EventbriteAttendee, await client.get(url, account), "api_url")
        if not att.checked_in:
            raise MappingError("attendee.checked_in for an attendee whose checked_in is false",
                               field="api_url.checked_in")
        records = [_ticket(att, TicketEventType.SCANNED, _scan_time(att, "api_url", delivery.received_at),
                           "api_url", account, env)]
        rid, changed = att.id, att.changed
    else:
        event: EventbriteEvent = facts.parse(EventbriteEvent,
                                             await client.get(url, account, "venue"), "api_url")
        records = [_performance(event, account, env)]
        rid, changed = event.id, event.changed
    return facts.Mapped(records, f"{NAME}/{account}/{action}/{rid}/{changed.isoformat()}", action)

"""Ticketmatic eventstream items -> contract facts (pure functions).

===========================  ============================================================
item ``type``                facts
===========================  ============================================================
``order:confirmed``          one SOLD TicketEvent per ticket in ``data.tickets``
``order:cancelled``          one CANCELLED per ticket listed (the tickets taken out)
``order:refunded``           one REFUNDED per ticket listed
``accesscontrol:scan``       SCANNED when ``accesscontrolstatus`` is 1 (entry); exits (2)
                             and "not scanned" (0) are skipped
``event:created|updated``    a Performance on ``calendar.performances`` (drafts skipped)
``webshop:*``                skipped: user-tracking basket actions, not sales
anything else                skipped (counted by type)
===========================  ============================================================

One fact per ticket (quantity 1), not one per ticket type: a Ticketmatic order may
span events and price types, every ticket has its own id, price and price type, and a
later cancel, refund or scan names single tickets, so per-ticket facts let each of
those meet exactly the sale it undoes. ``fact_id`` is ``ticketmatic:<account>:<item
id>:<ticket id>``: a replayed page gives the same ids. A scan's ``fact_id`` is
``ticketmatic:<account>:scan:<order id>:<ticket id>`` instead, so a re-entry after an
exit does not count a second visitor.

The performance key is the vendor event (``vendor:ticketmatic:<account>|<eventid>``).
Sector ids in the event's custom fields (top-level ``c_<key>`` keys of the Event;
``env.id_fields``, default ``dip=c_dipid``; e.g. ``uit=c_uitdatabankid``) become more
identifiers (``connectors.sdk.identifiers``: a UiT event id without ``#n`` is matched
on the event's ``startts``), also on ticket facts once the event was seen. An
unreadable value is logged and counted; the facts still go out with the vendor id.
An event's ``availability[]`` also becomes its declared availability (``stock``: free
seats summed over the contingents, as of the item's ``ts``).
The venue is the event's ``locationid``/``locationname``; a Ticketmatic event has no
address, so ``Venue.country`` stays empty (unknown), never a guessed NL.
Customers are pseudonymised (customer id, postcode area, country, birth year); names,
e-mail addresses and ticket holder names are never read into a fact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from pydantic import ValidationError

from bus.topics import PERFORMANCES, TICKET_EVENTS
from connectors.sdk.amounts import cents
from connectors.sdk.countries import iso_country_or_none
from connectors.sdk.errors import MappingError
from connectors.sdk.identifiers import IdFields, parse_dip
from connectors.sdk.privacy import Pseudonymiser
from connectors.sdk.records import SourceRecord
from connectors.sdk.window import EventTimeWindow
from connectors.ticketing.eventstream.stock import contingent_stock
from schemas.models import (
    AvroModel,
    Buyer,
    Identifier,
    Performance,
    PerformanceStatus,
    TicketEvent,
    TicketEventType,
    TicketType,
    Venue,
    utcnow,
)

__all__ = ["ORDER_TYPES", "SYSTEM", "Mapped", "MappingEnv", "map_item", "parse_dip_id",
           "redacted_item_bytes", "topic_of"]

SYSTEM = "ticketmatic"
ORDER_TYPES = {"order:confirmed": TicketEventType.SOLD,
               "order:cancelled": TicketEventType.CANCELLED,
               "order:refunded": TicketEventType.REFUNDED}
EVENT_TYPES = frozenset({"event:created", "event:updated"})
SCAN_TYPE = "accesscontrol:scan"
DRAFT = 19001
_M = TypeVar("_M", bound=AvroModel)


@dataclass
class MappingEnv:
    """What mapping needs besides the item.

    Args:
        account: the Ticketmatic account name.
        pseudonymiser: turns customers into buyers.
        pricetypes: Ticketmatic ``pricetypeid`` -> ticket type.
        default_ticket_type: for price types not in ``pricetypes`` (a price of 0 is FREE).
        id_fields: event custom fields (``c_`` prefix included) holding sector ids.
        currency: of every price in the account.
        event_ids: event id -> its sector identifiers, learned from event items.
        window: the event-time window facts must fall in (none: not checked here; the
            publisher still refuses facts outside its window).

    """

    account: str
    pseudonymiser: Pseudonymiser
    pricetypes: dict[str, TicketType] = field(default_factory=dict)
    default_ticket_type: TicketType = TicketType.OTHER
    id_fields: IdFields = field(default_factory=lambda: IdFields((("dip", "c_dipid"),)))
    currency: str = "EUR"
    event_ids: dict[str, list[Identifier]] = field(default_factory=dict)
    window: EventTimeWindow | None = None


@dataclass(frozen=True)
class Mapped:
    """Facts of one item, or why it has none; the event's sector ids it taught."""

    records: list[SourceRecord]
    skipped: str | None = None
    links: dict[str, list[Identifier]] = field(default_factory=dict)


def topic_of(item_type: Any) -> str:
    """The topic an item's facts (and dead letters) belong to."""
    return PERFORMANCES if item_type in EVENT_TYPES else TICKET_EVENTS


# -- parsing helpers ---------------------------------------------------------------------
def _ts(value: Any, path: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{path} is missing or not a timestamp string", field=path)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MappingError(f"{path} {value[:40]!r} is not an ISO-8601 timestamp", field=path) from None
    if parsed.tzinfo is None:  # Ticketmatic object timestamps are UTC without an offset
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-12:00 is past the last UTC instant
        raise MappingError(f"{path} {value[:40]!r} is out of range", field=path) from None


def _unicode(value: str, path: str) -> str:
    """``value`` when it can be written as UTF-8 (JSON can carry lone surrogates)."""
    try:
        value.encode()
    except UnicodeEncodeError:
        raise MappingError(f"{path} holds an unpaired UTF-16 surrogate (\\ud800-\\udfff); "
                           "send valid Unicode", field=path) from None
    return value


def _id(value: Any, path: str) -> str:
    if isinstance(value, bool) or value is None or (isinstance(value, str) and not value.strip()):
        raise MappingError(f"{path} is missing", field=path)
    if isinstance(value, int | str):
        return _unicode(str(value).strip(), path)
    raise MappingError(f"{path} must be an id (integer or string)", field=path)


def _fact(model: type[_M], paths: dict[str, str], default: str, **values: Any) -> _M:
    """``model(**values)``; a value the contract refuses is a MappingError naming the
    input field it came from (``paths``: contract field -> input path, else ``default``)."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise MappingError.from_validation(exc, paths, default) from exc


def _in_window(when: datetime, path: str, env: MappingEnv) -> datetime:
    if env.window is not None:
        env.window.check(when, path)
    return when


def _cents(value: Any, path: str) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise MappingError(f"{path} must be a decimal amount (number or string)", field=path)
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise MappingError(f"{path} {str(value)[:20]!r} is not a decimal amount", field=path) from None
    return cents(amount, path, str(value), "a refund is an order:refunded item with the "
                 "ticket's price")


def _text(value: Any, path: str) -> str | None:
    if isinstance(value, dict):  # a multi-language string
        value = next((v for v in value.values() if isinstance(v, str) and v.strip()), None)
    if isinstance(value, str):
        return _unicode(value.strip(), path) or None
    return None


def parse_dip_id(value: Any, path: str = "dip id") -> Identifier | None:
    """``"NL-23-1234-5|3"`` (also ``/``, ``#`` or a space) -> ``Identifier.dip``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return parse_dip(_unicode(str(value), path))
    except ValueError as exc:
        raise MappingError(f"{path}: {exc}", field=path) from None


def redacted_item_bytes(item: Any) -> bytes:
    """The item as JSON with customer details and ticket holder names withheld, for DLQs."""
    def clean(obj: Any) -> Any:
        if isinstance(obj, dict):
            out: dict[str, Any] = {}
            for k, v in obj.items():
                if k == "customer" and isinstance(v, dict):
                    out[k] = {"id": v.get("id"), "withheld": "personal data"}
                elif k in ("ticketname", "ticketholdername"):
                    out[k] = "[redacted]" if v else v
                else:
                    out[k] = clean(v)
            return out
        if isinstance(obj, list):
            return [clean(v) for v in obj]
        return obj
    text = json.dumps(clean(item), ensure_ascii=False, default=str)
    try:
        return text.encode()
    except UnicodeEncodeError:  # a lone surrogate: keep it escaped, as it arrived
        return json.dumps(clean(item), default=str).encode()


# -- facts -------------------------------------------------------------------------------
def _identifiers(env: MappingEnv, eventid: str) -> tuple[Identifier, list[Identifier]]:
    vendor = Identifier.vendor(SYSTEM, env.account, eventid)
    return vendor, [vendor, *env.event_ids.get(eventid, [])]


def _ticket_type(env: MappingEnv, pricetypeid: Any, price_cents: int | None) -> TicketType:
    if pricetypeid is not None and str(pricetypeid) in env.pricetypes:
        return env.pricetypes[str(pricetypeid)]
    return TicketType.FREE if price_cents == 0 else env.default_ticket_type


def _buyer(env: MappingEnv, data: dict[str, Any]) -> Buyer | None:
    raw = data.get("customer")
    contact: dict[str, Any] = raw if isinstance(raw, dict) else {}
    customerid = data.get("customerid") or contact.get("id")
    if customerid is None or customerid == "":
        return None
    path = "data.customerid" if data.get("customerid") else "data.customer.id"
    addresses = contact.get("addresses")
    i, address = next(((i, a) for i, a in enumerate(addresses) if isinstance(a, dict)),
                      (0, {})) if isinstance(addresses, list) else (0, {})
    # Only text reaches the pseudonymiser: a number, list or object is no postcode; a
    # country that is not a code or name (a number too) is refused, naming it.
    postcode = address.get("zip")
    country = iso_country_or_none(address.get("countrycode"),
                                  f"data.customer.addresses[{i}].countrycode")
    birthdate = contact.get("birthdate")
    try:
        return env.pseudonymiser.buyer(
            f"{SYSTEM}:{env.account}", _id(customerid, path),
            postcode=postcode if isinstance(postcode, str) else None,
            country=country,
            birthdate=birthdate if isinstance(birthdate, str | int)
            and not isinstance(birthdate, bool) else None)
    except ValidationError as exc:
        raise MappingError(f"data.customer cannot become a buyer: {exc.errors()[0]['msg']}",
                           field="data.customer") from exc


def _order(item_id: str, ts: datetime, kind: TicketEventType, data: dict[str, Any],
           env: MappingEnv) -> list[SourceRecord]:
    orderid = _id(data.get("orderid"), "data.orderid")
    tickets = data.get("tickets")
    if not isinstance(tickets, list) or not tickets:
        raise MappingError("order item has no tickets (data.tickets must be a non-empty list)",
                           field="data.tickets")
    buyer = _buyer(env, data)
    channel = data.get("saleschannelid")
    _in_window(ts, "ts", env)
    now = utcnow()
    out = []
    for n, ticket in enumerate(tickets):
        path = f"data.tickets[{n}]"
        if not isinstance(ticket, dict):
            raise MappingError(f"{path} is not an object", field=path)
        ticketid = _id(ticket.get("id"), f"{path}.id")
        eventid = _id(ticket.get("eventid"), f"{path}.eventid")
        cents = _cents(ticket.get("price"), f"{path}.price")
        key, identifiers = _identifiers(env, eventid)
        fact = _fact(
            TicketEvent, {"event_time": "ts", "price_cents": f"{path}.price",
                          "channel": "data.saleschannelid"}, path,
            fact_id=f"{SYSTEM}:{env.account}:{item_id}:{ticketid}", event_time=ts, ingested_at=now,
            source_system=SYSTEM, source_account=env.account, performance_key=key.key,
            identifiers=identifiers, event_type=kind, quantity=1,
            ticket_type=_ticket_type(env, ticket.get("pricetypeid"), cents), price_cents=cents,
            currency=env.currency, order_id=orderid, ticket_ids=[ticketid],
            channel=f"saleschannel-{channel}" if channel is not None else None, buyer=buyer)
        out.append(SourceRecord(TICKET_EVENTS, key.key, fact))
    return out


def _scan(ts: datetime, data: dict[str, Any], env: MappingEnv) -> Mapped:
    status = data.get("accesscontrolstatus")
    if status not in (0, 1, 2):
        raise MappingError("data.accesscontrolstatus must be 0 (not scanned), 1 (entry) or 2 "
                           "(exit)", field="data.accesscontrolstatus")
    if status != 1:
        return Mapped([], skipped="scan is not an entry")
    ticketid = _id(data.get("id"), "data.id")
    eventid = _id(data.get("eventid"), "data.eventid")
    orderid = _id(data.get("orderid"), "data.orderid")
    entered = data.get("accesscontrollastenteredts")
    when_path = "data.accesscontrollastenteredts" if entered else "ts"
    when = _in_window(_ts(entered, when_path) if entered else ts, when_path, env)
    key, identifiers = _identifiers(env, eventid)
    fact = _fact(
        TicketEvent, {"event_time": when_path}, "data",
        fact_id=f"{SYSTEM}:{env.account}:scan:{orderid}:{ticketid}", event_time=when,
        ingested_at=utcnow(), source_system=SYSTEM, source_account=env.account,
        performance_key=key.key, identifiers=identifiers, event_type=TicketEventType.SCANNED,
        quantity=1, ticket_type=_ticket_type(env, data.get("pricetypeid"), None),
        currency=env.currency, order_id=orderid, ticket_ids=[ticketid])
    return Mapped([SourceRecord(TICKET_EVENTS, key.key, fact)])


def _event(item_id: str, ts: datetime, data: dict[str, Any], env: MappingEnv) -> Mapped:
    eventid = _id(data.get("id"), "data.id")
    try:
        start: datetime | None = _ts(data.get("startts"), "data.startts")
    except MappingError:
        start = None  # a draft may have none yet; a published event is refused below
    sector = env.id_fields.extract(data, start, "data")
    links = {eventid: sector}
    if data.get("currentstatus") == DRAFT:
        return Mapped([], skipped="draft event", links=links)
    title = _text(data.get("name"), "data.name")
    if title is None:
        raise MappingError("data.name is missing: an event needs a name", field="data.name")
    start = _ts(data.get("startts"), "data.startts")
    end = _ts(data["endts"], "data.endts") if data.get("endts") else None
    on_sale = _ts(data["salestartts"], "data.salestartts") if data.get("salestartts") else None
    availability = data.get("availability") or []
    if not isinstance(availability, list):
        raise MappingError("data.availability must be a list of contingents",
                           field="data.availability")
    totals: list[int] = []
    for c in availability:
        total = c.get("total") if isinstance(c, dict) else None
        if not isinstance(total, int) or isinstance(total, bool) or total < 0:
            raise MappingError("data.availability[].total must be a non-negative integer",
                               field="data.availability.total")
        totals.append(total)
    locationid = data.get("locationid")
    venue = _fact(Venue, {"name": "data.locationname"}, "data.locationid",
                  id=f"{SYSTEM}:{env.account}:location:{locationid if locationid is not None else '?'}",
                  name=_text(data.get("locationname"), "data.locationname")
                  or f"Ticketmatic location {locationid}")
    _in_window(ts, "ts", env)
    vendor = Identifier.vendor(SYSTEM, env.account, eventid)
    dip = next((i for i in sector if i.namespace == "dip"), None)
    fact = _fact(
        Performance, {"event_time": "ts", "start": "data.startts", "end": "data.endts",
                      "on_sale_from": "data.salestartts", "capacity": "data.availability"}, "data",
        fact_id=f"{SYSTEM}:{env.account}:{item_id}:event:{eventid}", event_time=ts,
        ingested_at=utcnow(), source_system=SYSTEM, source_account=env.account,
        performance_key=vendor.key, identifiers=[vendor, *sector],
        production_id=dip.value.split("|")[0] if dip else None, title=title, venue=venue,
        start=start, end=end, capacity=sum(totals) if totals else None,
        status=PerformanceStatus.SCHEDULED, on_sale_from=on_sale,
        declared=contingent_stock(availability, ts))
    return Mapped([SourceRecord(PERFORMANCES, vendor.key, fact)], links=links)


def map_item(item: Any, env: MappingEnv) -> Mapped:
    """The facts of one eventstream item.

    Raises:
        MappingError: the item cannot become facts (the caller dead-letters it); its
            ``field`` is the item's field at fault, also when the contract refused the
            value it became (or ``env.window`` its time).

    """
    if not isinstance(item, dict):
        raise MappingError("eventstream item is not an object", field="item")
    item_id = _id(item.get("id"), "id")
    type_ = item.get("type")
    if not isinstance(type_, str) or not type_:
        raise MappingError("eventstream item has no type", field="type")
    ts = _ts(item.get("ts"), "ts")
    data = item.get("data")
    if type_.startswith("webshop:"):
        return Mapped([], skipped="webshop user-tracking action")
    known = type_ in ORDER_TYPES or type_ in EVENT_TYPES or type_ == SCAN_TYPE
    if not known:
        return Mapped([], skipped="unknown item type")
    if not isinstance(data, dict):
        raise MappingError(f"{type_} item has no data object", field="data")
    if type_ in ORDER_TYPES:
        return Mapped(_order(item_id, ts, ORDER_TYPES[type_], data, env))
    if type_ == SCAN_TYPE:
        return _scan(ts, data, env)
    return _event(item_id, ts, data, env)

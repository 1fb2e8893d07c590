"""Stager push-feed deliveries -> cumulative sales snapshots.

Stager pushes an event's data to each publication channel when it changes; with the
"Extended" permission level every ticket type carries ``total``, ``available``,
``reserved`` and ``soldOut``. That is cumulative state, so it becomes one
``SalesSnapshot`` on ``ticketing.snapshots`` (never ticket events):

- tickets of a ticket type = ``total - available - reserved`` (revenue = tickets x price),
  summed per contract ticket type;
- reservations = sum of ``reserved`` (value = reserved x price);
- capacity = sum of ``total``;
- declared (what Stager itself says): remaining = sum of ``available``, capacity = sum of
  ``total``, SOLD_OUT when every ticket type is sold out (``soldOutOverride`` when set,
  else ``soldOut``; the organiser can close sales with seats left), else from the count.

Body (the event object as the push feed sends it, plus the channel and send time)::

    {"trigger": "event.updated", "sentAt": "...",
     "publicationChannel": {"id": "...", "name": "Website"},
     "event": {"id": "...", "name": "...", "start": "...", "modified": "...",
               "customFields": [{"key": "dip_id", "value": "NL-23-1234-5|3"}],
               "ticketTypes": [{"id": "...", "name": "Regulier", "price": "27.50",
                                "total": 300, "available": 120, "reserved": 10,
                                "soldOut": false}]}}

Every channel receives the whole event's counts, so the snapshot is the performance's,
whichever channel delivered it. The fact id is derived from the event id, the change
time and the counts, so a replay yields the same id.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

from pydantic import Field, StrictBool, StrictInt

from bus.topics import SNAPSHOTS
from connectors.sdk.declared import declared
from connectors.sdk.errors import MappingError
from connectors.sdk.records import SourceRecord
from connectors.ticketing.webhook import facts
from schemas.models import DeclaredStatus, Identifier, SalesSnapshot, SnapshotLine, TicketType, utcnow

__all__ = ["NAME", "StagerDelivery", "map_stager"]

NAME = "stager"


class StagerTicketType(facts.VendorModel):
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    price: Decimal = Field(ge=0, description="Euros.")
    total: StrictInt = Field(ge=0, le=facts.INT_MAX)
    available: StrictInt = Field(ge=0, le=facts.INT_MAX)
    reserved: StrictInt = Field(default=0, ge=0, le=facts.INT_MAX)
    soldOut: StrictBool = False  # noqa: N815 - Stager's spelling
    soldOutOverride: StrictBool | None = None  # noqa: N815


class StagerCustomField(facts.VendorModel):
    key: str
    value: Any = None


class StagerEvent(facts.VendorModel):
    id: str = Field(min_length=1)
    name: str | None = None
    start: facts.Time | None = None
    modified: facts.Time | None = None
    currency: str = "EUR"
    customFields: list[StagerCustomField] = Field(default_factory=list)  # noqa: N815
    ticketTypes: list[StagerTicketType] = Field(min_length=1)  # noqa: N815


class StagerChannel(facts.VendorModel):
    id: str = Field(min_length=1)
    name: str | None = None


class StagerDelivery(facts.VendorModel):
    """Body of a Stager push-feed delivery."""

    trigger: str | None = None
    sentAt: facts.Time  # noqa: N815
    publicationChannel: StagerChannel  # noqa: N815
    event: StagerEvent


def map_stager(delivery: facts.Delivery, payload: Any, env: facts.MappingEnv) -> facts.Mapped:
    """The sales snapshot of one Stager delivery.

    Raises:
        MappingError: missing/wrong field, negative count, more sold than exists, a sum
            the contract cannot carry, event time outside the window, unknown ticket
            type (strict).

    """
    body: StagerDelivery = facts.parse(StagerDelivery, payload)
    event = body.event
    account = delivery.account
    lines: dict[TicketType, list[int]] = {}
    reservations = reservations_value = capacity = 0
    for i, tt in enumerate(event.ticketTypes):
        where = f"event.ticketTypes[{i}]"
        sold = tt.total - tt.available - tt.reserved
        if sold < 0:
            raise MappingError(
                f"negative quantity at {where}: available ({tt.available}) + reserved "
                f"({tt.reserved}) exceed total ({tt.total})", field=f"{where}.total")
        price = facts.to_cents(tt.price, f"{where}.price")
        kind = env.ticket_types(tt.name, price, field=f"{where}.name")
        line = lines.setdefault(kind, [0, 0])
        line[0] += sold
        line[1] += sold * price
        reservations += tt.reserved
        reservations_value += tt.reserved * price
        capacity += tt.total
        _within(max(line[0], reservations, capacity), facts.INT_MAX, f"{where}.total",
                "tickets, reservations or capacity summed over the ticket types")
        _within(max(line[1], reservations_value), facts.LONG_MAX, f"{where}.price",
                "revenue in cents summed over the ticket types")
    primary = Identifier.vendor(NAME, account, event.id)
    fields = {f.key: f.value for f in event.customFields}
    identifiers = [primary, *facts.custom_identifiers(fields, env, event.start,
                                                      "event.customFields", f"{NAME}/{account}")]
    when = event.modified or body.sentAt
    when_field = "event.modified" if event.modified else "sentAt"
    facts.check_time(env, when, when_field)
    counts = json.dumps(sorted([k.value, *v] for k, v in lines.items())) + f"/{reservations}/{capacity}"
    closed = [tt.soldOut if tt.soldOutOverride is None else tt.soldOutOverride for tt in event.ticketTypes]
    if any(closed):  # a flag alone changes what Stager declares (ids without flags stay as they were)
        counts += "/soldout:" + "".join("1" if c else "0" for c in closed)
    stock = declared(DeclaredStatus.SOLD_OUT if all(closed) else None, capacity=capacity,
                     remaining=sum(tt.available for tt in event.ticketTypes),
                     source_field="event.ticketTypes[].available", as_of=when)
    inputs = {"event_time": when_field,
              "currency": "event.currency", "performance_key": "event.id",
              "identifiers": "event.customFields", "lines": "event.ticketTypes",
              "capacity": "event.ticketTypes", "source_account": "account"}
    snapshot = facts.contract(
        SalesSnapshot, inputs, fact_id=facts.fact_id(NAME, account, event.id, when.isoformat(), counts),
        event_time=when, ingested_at=utcnow(), source_system=NAME, source_account=account,
        performance_key=primary.key, identifiers=identifiers,
        lines=[SnapshotLine(ticket_type=k, tickets=v[0], revenue_cents=v[1])
               for k, v in sorted(lines.items())],
        reservations=reservations, reservations_value_cents=reservations_value,
        capacity=capacity, currency=event.currency, declared=stock)
    key = hashlib.sha256(f"{event.id}|{when.isoformat()}|{counts}".encode()).hexdigest()
    return facts.Mapped([SourceRecord(SNAPSHOTS, primary.key, snapshot)], f"{NAME}/{account}/{key}",
                        body.trigger or "event.updated")


def _within(value: int, limit: int, field_path: str, what: str) -> None:
    if value > limit:
        raise MappingError(f"wrong value {field_path}: {what} exceed what the contract carries "
                           f"({limit})", field=field_path)

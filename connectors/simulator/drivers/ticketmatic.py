"""Ticketmatic: each venue account's eventstream on its own fake server, read by the real
``EventstreamSource`` through the SDK runner while the driver appends items.

Per performance an ``event:updated`` item comes first (the vendor's calendar item:
name, start, a contingent of the hall's capacity, the DIP id in custom field
``c_dipid``); then, in event-time order, ``order:confirmed`` (SOLD),
``order:cancelled`` / ``order:refunded`` (the order's tickets) and
``accesscontrol:scan`` (one ticket, entry). Ticket facts carry only the vendor event
id until the connector has seen the event item. Price types: 1 Regulier (NORMAL),
2 CJP (DISCOUNT), 3 Vrijkaart (FREE), 4 Arrangement (OTHER); sales channels 1 web,
2 box office, 3 reseller. Item ids are Ticketmatic style ``<ms>-<seq>`` from the
item's time, so the cursor order is the event-time order.

In a real season (``connectors.simulator.realism``) the event item carries the sector id
the venue typed into a custom field (``c_dipid`` or ``c_uitdatabankid``, read by the
connector's ``--id-field`` mapping ``ID_FIELDS``) or none, and the venue's own spelling
of the title and location.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connectors.fakes.ticketmatic import Customer as TmCustomer
from connectors.fakes.ticketmatic import (
    FakeTicketmatic,
    event_data,
    event_item,
    order_item,
    order_ticket,
    scan_item,
    tm_ts,
)
from connectors.sdk.identifiers import IdFields
from connectors.simulator.drivers.base import Driver, Unit, drain
from connectors.simulator.drivers.render import calendar_modified, canonical_value, in_delivery_order
from connectors.simulator.granularity import ticket_facts
from connectors.simulator.model import TICKETMATIC, Customer, SimPerformance, TicketHappening
from connectors.simulator.realism import title_for, vendor_field_value, venue_name_for
from connectors.ticketing.eventstream.client import EventstreamClient
from connectors.ticketing.eventstream.mapping import MappingEnv
from connectors.ticketing.eventstream.source import EventstreamSource
from schemas.models import TicketType

__all__ = ["ID_FIELDS", "TicketmaticDriver"]

#: ``cultuurbus connector eventstream --id-field dip=c_dipid --id-field uit=c_uitdatabankid``
ID_FIELDS = IdFields((("dip", "c_dipid"), ("uit", "c_uitdatabankid")))

PRICETYPES = {"NORMAL": 1, "DISCOUNT": 2, "FREE": 3, "OTHER": 4}
CHANNELS = {"web": 1, "box_office": 2, "reseller": 3}
_ORDER_TYPES = {"SOLD": "order:confirmed", "CANCELLED": "order:cancelled",
                "REFUNDED": "order:refunded"}


def _ticket_id(ticket: str) -> int:
    order, _, n = ticket.rpartition("-")
    return int(order[1:]) * 10 + int(n)


def _contact(c: Customer) -> tuple[TmCustomer, dict[str, Any]]:
    tm = TmCustomer(int(c.id[1:]), c.first_name, c.last_name, c.email, c.birthdate.isoformat(),
                    c.postcode, c.country)
    contact = tm.contact()
    contact["phone"] = c.phone
    contact["addresses"] = [{"street1": c.street, "zip": c.postcode, "city": c.city,
                             "countrycode": c.country}]
    return tm, contact


class TicketmaticDriver(Driver):
    kind = TICKETMATIC
    connector = "eventstream"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fakes: dict[str, FakeTicketmatic] = {}
        self._seq: dict[tuple[str, int], int] = defaultdict(int)

    def _id(self, account: str, ts: datetime) -> str:
        ms = int(ts.timestamp() * 1000)
        seq = self._seq[(account, ms)]
        self._seq[(account, ms)] += 1
        return f"{ms}-{seq}"

    def _event(self, p: SimPerformance) -> dict[str, Any]:
        season = self.env.season
        ts = calendar_modified(p, self.kind)
        if season.real:
            value = vendor_field_value(p)
            fields = {"dipid" if p.vendor_field == "dip" else "uitdatabankid": value} if value else {}
            data = event_data(int(str(p.vendor_id)), title_for(season, p, self.kind), p.start,
                              custom_fields=fields, contingents=((1, p.capacity),),
                              locationname=venue_name_for(season, p, self.kind),
                              duration=p.end - p.start)
        else:
            data = event_data(int(str(p.vendor_id)), season.production(p.production_id).title,
                              p.start, dip_id=canonical_value(p), contingents=((1, p.capacity),),
                              locationname=p.hall, duration=p.end - p.start)
        data["salestartts"] = tm_ts(p.on_sale)
        for contingent in data["availability"]:
            contingent["lastupdatets"] = tm_ts(ts)
        return event_item(self._id(p.account, ts), ts, data)

    def _item(self, p: SimPerformance, h: TicketHappening) -> dict[str, Any]:
        eventid = int(str(p.vendor_id))
        orderid = int(h.order_id[1:])
        if h.event_type == "SCANNED":
            return scan_item(self._id(p.account, h.event_time), h.event_time,
                             _ticket_id(h.ticket_ids[0]), eventid, orderid, entered=h.event_time)
        tickets = [order_ticket(_ticket_id(t), eventid, pricetypeid=PRICETYPES[h.ticket_type],
                                price=h.price_cents / 100, tickettypeid=1) for t in h.ticket_ids]
        for t in tickets:
            t["servicecharge"] = "0.000000"
        assert h.customer_id is not None, "every Ticketmatic happening is an order's"
        tm, contact = _contact(self.env.season.customer(h.customer_id))
        item = order_item(self._id(p.account, h.event_time), h.event_time, orderid, tickets,
                          type_=_ORDER_TYPES[h.event_type], customer=tm,
                          saleschannelid=CHANNELS[h.channel])
        item["data"]["customer"] = contact
        return item

    def units(self) -> list[Unit]:
        season = self.env.season
        self._seq.clear()
        events = [(calendar_modified(p, self.kind), p.canonical_id, 1, self._event(p))
                  for p in season.performances if p.ticketing == self.kind]
        orders = [(h.event_time, h.performance, ticket_facts(self.kind, h),
                   self._item(season.performance(h.performance), h))
                  for h in in_delivery_order(season, self.kind)]
        return [Unit(perf, facts, item)
                for _, perf, facts, item in sorted(events + orders,
                                                   key=lambda x: (x[0], x[3]["id"]))]

    def start(self) -> None:
        for p in self.env.season.performances:
            if p.ticketing == self.kind and p.account not in self.fakes:
                self.fakes[p.account] = FakeTicketmatic(account=p.account, page_size=200).start()

    def deliver(self, units: Sequence[Unit]) -> None:
        season = self.env.season
        fed = threading.Event()
        ctx = self.env.context(self.connector)
        errors: list[BaseException] = []
        pricetypes = {str(v): TicketType(k) for k, v in PRICETYPES.items()}

        def run(account: str, fake: FakeTicketmatic) -> None:
            client = EventstreamClient(fake.base_url, account)
            source = EventstreamSource(client, MappingEnv(account, ctx.pseudonymiser, pricetypes,
                                                          id_fields=ID_FIELDS),
                                       connector=self.env.connector_name(self.connector))
            try:
                drain(self.env, ctx, source, self.stats, done=fed.is_set)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the driver's thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=item, daemon=True, name=f"tm-{item[0]}")
                   for item in self.fakes.items()]
        for t in threads:
            t.start()
        try:
            batch = 1 if self.env.pacer.rate else 500  # the fake re-sorts on every append
            for i in range(0, len(units), batch):
                chunk = units[i:i + batch]
                self.env.pacer.wait(sum(u.facts for u in chunk))
                by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
                for u in chunk:
                    by_account[season.performance(u.perf).account].append(u.payload)
                for account, items in by_account.items():
                    self.fakes[account].append(items)
            self.stats.units += len(units)
        finally:
            fed.set()
            for t in threads:
                t.join(self.env.timeout_s + 10)
            ctx.close()
        if errors:
            raise errors[0]

    def close(self) -> None:
        for fake in self.fakes.values():
            fake.stop()
        self.fakes.clear()


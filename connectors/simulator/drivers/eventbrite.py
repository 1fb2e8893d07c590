"""Eventbrite: the fake API holds each order and attendee as it is *now*; a delivery
names only the action and the ``api_url`` the receiver then fetches.

SOLD -> the order and its attendees appear, ``order.placed``; REFUNDED -> attendees
flagged refunded, ``order.refunded``; CANCELLED -> attendees flagged cancelled,
``order.updated``; SCANNED -> the attendee checked in, ``attendee.checked_in``. One
attendee is one ticket. Eventbrite events have no custom fields, so its facts carry
only the vendor event id; calendars (UiT labels, schema.org identifiers, iCal tags)
link it to the canonical id. The receiver maps the order as fetched: a refund or
cancellation also yields the sale it undoes (same fact id as the sale's own), so each
such delivery is acknowledged with two facts per ticket.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from typing import Any

from connectors.fakes.webhooks import eventbrite_attendee, eventbrite_delivery, eventbrite_order
from connectors.simulator.drivers.base import Driver, SimulationError, Unit, push_all
from connectors.simulator.drivers.render import (
    TICKET_NAMES,
    in_delivery_order,
    iso,
    person,
)
from connectors.simulator.drivers.webhook_host import WebhookHost, webhook_host
from connectors.simulator.model import EVENTBRITE, TicketHappening

__all__ = ["EventbriteDriver"]

_ACTIONS = {"SOLD": "order.placed", "REFUNDED": "order.refunded", "CANCELLED": "order.updated",
            "SCANNED": "attendee.checked_in"}
_UNDO = ("REFUNDED", "CANCELLED")


def _attendee_id(ticket_id: str) -> str:
    order, _, n = ticket_id.rpartition("-")
    return f"{int(order[1:]):011d}{int(n):02d}"


class EventbriteDriver(Driver):
    kind = EVENTBRITE
    connector = "webhook"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._orders: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def units(self) -> list[Unit]:
        # a refund or cancellation repeats the sale it undoes (same fact id, deduplicated
        # downstream), so the receiver acknowledges two facts per ticket
        return [Unit(h.performance, h.quantity * (2 if h.event_type in _UNDO else 1), h)
                for h in in_delivery_order(self.env.season, self.kind)]

    def _apply(self, host: WebhookHost, h: TicketHappening) -> str:
        """Change the fake API's state as the happening does; the api_url to fetch."""
        season = self.env.season
        perf = season.performance(h.performance)
        event_id, when = str(perf.vendor_id), iso(h.event_time)
        order_id = f"{int(h.order_id[1:]):010d}"
        assert h.customer_id is not None, "every Eventbrite happening is an order's"
        buyer = person(season.customer(h.customer_id))
        with self._lock:
            order = self._orders.get(order_id)
            if order is None:
                attendees = [eventbrite_attendee(
                    attendee_id=_attendee_id(t), event_id=event_id, order_id=order_id,
                    ticket_class_name=TICKET_NAMES[h.ticket_type], price_cents=h.price_cents,
                    person=buyer, changed=when) for t in h.ticket_ids]
                for a in attendees:
                    a["created"] = when
                order = eventbrite_order(order_id=order_id, event_id=event_id,
                                         attendees=attendees, person=buyer, changed=when)
                order["created"] = when
                self._orders[order_id] = order
            order = copy.deepcopy(order)
            wanted = {_attendee_id(t) for t in h.ticket_ids}
            for a in order["attendees"]:
                if a["id"] not in wanted:
                    continue
                if h.event_type == "SCANNED":
                    a.update(checked_in=True, status="Checked In", changed=when)
                    a["barcodes"][0].update(status="used", changed=when)
                elif h.event_type in ("REFUNDED", "CANCELLED"):
                    flag = "refunded" if h.event_type == "REFUNDED" else "cancelled"
                    a.update({flag: True, "status": "Not Attending", "changed": when})
            if h.event_type in ("REFUNDED", "CANCELLED"):
                order.update(status="refunded" if h.event_type == "REFUNDED" else "cancelled",
                             changed=when)
            self._orders[order_id] = order
        api = host.eventbrite
        url = api.put_order(order)
        scanned = None
        for a in order["attendees"]:
            att_url = api.put_attendee(a)
            if h.event_type == "SCANNED" and a["id"] in wanted:
                scanned = att_url
        if h.event_type == "SCANNED":
            if scanned is None:
                raise SimulationError(f"happening {h.id}: ticket {h.ticket_ids[0]} is not in "
                                      f"order {h.order_id}")
            return scanned
        return url

    def deliver(self, units: Sequence[Unit]) -> None:
        host = webhook_host(self.env)
        creds = host.credentials(self.kind)

        def send(u: Unit) -> int:
            h: TicketHappening = u.payload
            url = self._apply(host, h)
            account = self.env.season.performance(h.performance).account
            return host.post(eventbrite_delivery(account, creds.secret, _ACTIONS[h.event_type],
                                                 url, url_token=creds.url_token))

        push_all(self.env, units, send, self.stats)

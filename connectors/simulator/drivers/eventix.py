"""Eventix / OpenTicket: webhooks to the receiver as OpenTicket sends them (its nonce in
``OpenTicket-Identifier``; signed only for an external receiver), one per happening.

SOLD -> ``order.paid``, REFUNDED -> ``order.refunded``, CANCELLED ->
``order.cancelled`` (the whole order: one fact per ticket), SCANNED ->
``order.ticket.scanned`` (one ticket). The event's metadata carries the canonical
id (``dip_id`` in NL, ``uit_id`` in Flanders); the buyer is the season customer with
all the personal data Eventix sends. The dedupe key is the happening id. In a real
season the metadata holds what the venue typed (``realism.vendor_field_value``).
"""

from __future__ import annotations

from connectors.fakes.webhooks import SignedRequest, eventix_delivery, eventix_order
from connectors.simulator.drivers.base import Unit
from connectors.simulator.drivers.render import (
    TICKET_NAMES,
    canonical_value,
    in_delivery_order,
    iso,
    local_iso,
    person,
    stable_uuid,
)
from connectors.simulator.drivers.webhook_host import Credentials, RequestDriver
from connectors.simulator.model import EVENTIX, SimPerformance, TicketHappening
from connectors.simulator.realism import title_for, vendor_field_value

__all__ = ["EventixDriver", "facts_of"]

_TRIGGERS = {"SOLD": "order.paid", "REFUNDED": "order.refunded", "CANCELLED": "order.cancelled",
             "SCANNED": "order.ticket.scanned"}


def facts_of(h: TicketHappening) -> int:
    """Eventix reports per ticket."""
    return h.quantity


class EventixDriver(RequestDriver):
    kind = EVENTIX

    def _render(self, perf: SimPerformance, h: TicketHappening, creds: Credentials) -> SignedRequest:
        """The delivery of ``h``: the order as it is after it."""
        season = self.env.season
        prod = season.production(perf.production_id)
        event_id = str(perf.vendor_id)
        guids = [stable_uuid("eventix-ticket", t) for t in h.ticket_ids]
        real_id = vendor_field_value(perf) if season.real else None
        assert h.customer_id is not None, "every Eventix happening is an order's"
        order = eventix_order(
            event_id=event_id, tickets=[(TICKET_NAMES[h.ticket_type], h.price_cents)] * h.quantity,
            person=person(season.customer(h.customer_id)),
            dip_id=(real_id if perf.vendor_field == "dip" else None) if season.real
            else canonical_value(perf) if perf.dip_number is not None else None,
            order_guid=stable_uuid("eventix-order", h.order_id),
            event_name=title_for(season, perf, self.kind) if season.real else prod.title,
            ticket_guids=guids)
        event = order["events"][0]
        event["start"] = local_iso(perf.start)
        if season.real and real_id is not None and perf.vendor_field == "uit":
            event["metadata"] = [{"name": "uit_id", "value": real_id}]
        elif perf.uit_event is not None and not season.real:
            event["metadata"] = [{"name": "uit_id", "value": canonical_value(perf)}]
        order["created_at"] = local_iso(h.event_time)
        order["purchase_channel"] = h.channel
        order["status"] = {"SOLD": "paid", "SCANNED": "paid"}.get(h.event_type, h.event_type.lower())
        if h.event_type == "SCANNED":
            for t in order["tickets"]:
                t["scanned_at"], t["status"] = iso(h.event_time), "scanned"
        return eventix_delivery(perf.account, creds.secret, _TRIGGERS[h.event_type], order,
                                ticket_guid=guids[0] if h.event_type == "SCANNED" else None,
                                dedupe_key=f"sim-{h.id}", time=local_iso(h.event_time),
                                nonce=creds.nonce, url_token=creds.url_token)

    def units(self) -> list[Unit]:
        season = self.env.season
        return [Unit(h.performance, facts_of(h), h)
                for h in in_delivery_order(season, self.kind)]

"""Stager: the push feed's cumulative counts per ticket type, one delivery per snapshot.

Per ticket type ``total``/``available``/``reserved`` are chosen so the receiver reads
back exactly the snapshot: tickets = total - available - reserved (the season's
cumulative tickets of that type); every open hold sits on the Regulier type; the
seats still free are ``available`` on Regulier; so the sum of ``total`` is the hall's
capacity. The event's ``customFields`` carry ``dip_id``; ``modified`` is the snapshot
time (the snapshot's event time).
"""

from __future__ import annotations

import json
from decimal import Decimal

from connectors.fakes.webhooks import SignedRequest, stager_delivery
from connectors.simulator.drivers.base import Unit
from connectors.simulator.drivers.render import (
    TICKET_NAMES,
    canonical_value,
    iso,
    local_iso,
    stable_uuid,
)
from connectors.simulator.drivers.webhook_host import Credentials, RequestDriver
from connectors.simulator.model import STAGER, SimPerformance, Snapshot
from connectors.simulator.sales import unit_prices

__all__ = ["StagerDriver"]


def _euros(cents: int) -> str:
    return str((Decimal(cents) / 100).quantize(Decimal("0.01")))


class StagerDriver(RequestDriver):
    kind = STAGER

    def _render(self, perf: SimPerformance, snap: Snapshot, creds: Credentials) -> SignedRequest:
        """The push of ``snap``: every ticket type's counts at its time."""
        prices = unit_prices(self.env.season.production(perf.production_id).base_price_cents)
        free = max(snap.capacity - snap.sold - snap.reservations - snap.blocked_seats, 0)
        types = []
        for line in snap.lines:
            normal = line.ticket_type == "NORMAL"
            reserved = snap.reservations if normal else 0
            available = free if normal else 0
            total = line.tickets + reserved + available
            types.append({"id": stable_uuid("stager-tt", perf.vendor_id, line.ticket_type),
                          "name": TICKET_NAMES[line.ticket_type],
                          "price": _euros(prices[line.ticket_type]), "total": total,
                          "available": available, "reserved": reserved,
                          "soldOut": available == 0, "soldOutOverride": None})
        shape = stager_delivery(perf.account, None, event_id=str(perf.vendor_id),
                                ticket_types=types, modified=local_iso(snap.event_time),
                                dip_id=canonical_value(perf)).payload
        shape["sentAt"] = iso(snap.event_time)
        shape["event"]["name"] = self.env.season.production(perf.production_id).title
        shape["event"]["start"] = local_iso(perf.start)
        return stager_delivery(perf.account, creds.secret, body=json.dumps(shape).encode(),
                               url_token=creds.url_token)

    def units(self) -> list[Unit]:
        season = self.env.season
        mine = {p.canonical_id for p in season.performances if p.ticketing == self.kind}
        snaps = sorted((s for s in season.snapshots if s.performance in mine),
                       key=lambda s: (s.event_time, s.id))
        return [Unit(s.performance, 1, s) for s in snaps]

"""Small renderings every driver needs: names vendors give ticket types, buyers as the
vendor builders take them, tagged identifiers, deterministic vendor ids, times."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from connectors.fakes.webhooks import Person
from connectors.simulator.model import (
    DIP_CALENDAR,
    ICAL,
    SCHEMAORG,
    TICKETMATIC,
    UITDATABANK,
    Customer,
    Season,
    SimPerformance,
    TicketHappening,
)
from connectors.simulator.season import LOCAL_TZ
from connectors.simulator.truth import vendor_identifier

__all__ = ["TICKET_NAMES", "calendar_modified", "canonical_value", "in_delivery_order", "iso",
           "local_iso", "person", "stable_uuid", "tags_of"]

#: What box offices call the contract's ticket types (the receivers' keyword rules
#: map them back: Regulier -> NORMAL, CJP korting -> DISCOUNT, Vrijkaart/price 0 ->
#: FREE, anything unknown -> OTHER).
TICKET_NAMES = {"NORMAL": "Regulier", "DISCOUNT": "CJP korting", "FREE": "Vrijkaart",
                "OTHER": "Arrangement diner"}

_NS = uuid.UUID("3f1b1c52-9a43-5d4e-8d8e-2a7c6f0b5e11")


def stable_uuid(*parts: object) -> str:
    """The same parts always give the same uuid (vendor ids must be stable per run)."""
    return str(uuid.uuid5(_NS, "/".join(str(p) for p in parts)))


def iso(t: datetime) -> str:
    """UTC ISO 8601 with offset, seconds precision."""
    return t.isoformat(timespec="seconds")


def local_iso(t: datetime) -> str:
    """Local (Europe/Amsterdam) ISO 8601 with offset, as Dutch vendors write times."""
    return t.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def person(c: Customer) -> Person:
    """A season customer in the shape the vendor builders take."""
    return Person(c.id, c.first_name, c.last_name, c.email, c.phone, c.street, c.postcode,
                  c.city, c.country, c.birthdate.isoformat())


def canonical_value(perf: SimPerformance) -> str:
    """The canonical identifier's value as venues type it in a custom field."""
    return perf.canonical_id.split("|", 1)[1]


def tags_of(perf: SimPerformance) -> list[str]:
    """Tagged identifiers a calendar item carries: canonical first, then the vendor's."""
    ns, value = perf.canonical_id.split("|", 1)
    tags = [f"{ns}:{value}"]
    vendor = vendor_identifier(perf)
    if vendor is not None:
        tags.append(f"{vendor.namespace}:{vendor.value}")
    return tags


def in_delivery_order(season: Season, kind: str) -> list[TicketHappening]:
    """Happenings of performances sold by ``kind``, in the season's delivery order."""
    mine = {p.canonical_id for p in season.performances if p.ticketing == kind}
    index = {h.id: h for h in season.happenings if h.performance in mine}
    return [index[hid] for hid in season.delivery if hid in index]


_LAG = {DIP_CALENDAR: timedelta(0), UITDATABANK: timedelta(0), SCHEMAORG: timedelta(minutes=1),
        ICAL: timedelta(hours=1), TICKETMATIC: timedelta(hours=2)}
_SAYS_POSTPONED = (UITDATABANK, SCHEMAORG)


def calendar_modified(perf: SimPerformance, kind: str) -> datetime:
    """When calendar ``kind`` last changed the performance.

    Its status change (else a day before it went on sale), minus a lag per kind: the
    authoritative DIP/UiT description is the newest, the venue's own schema.org page
    a minute older, its iCal feed an hour, a vendor's event item two hours (newest
    calendar fact wins downstream, and only DIP/UiT/schema.org carry capacity and
    cancellations). A postponed performance is newest where a calendar can say so.
    """
    base = perf.status_changed_at or (perf.on_sale - timedelta(days=1))
    if perf.status == "POSTPONED":
        return base if kind in _SAYS_POSTPONED else base - timedelta(days=1) - _LAG[kind]
    return base - _LAG[kind]

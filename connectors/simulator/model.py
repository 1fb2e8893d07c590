"""The season's vocabulary: plain frozen records, no behaviour.

A ``Season`` is everything that happened (or was published) up to ``now``: who played
where and when, who bought what, which seats were held, blocked and scanned. Drivers
render it in each vendor's shape; ``truth`` derives the expected bus state from it.
Every time is an aware UTC ``datetime`` truncated to the second, so it survives every
vendor format (ISO text, epoch seconds, iCal) unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

__all__ = [
    "BOXOFFICE_CSV",
    "CALENDAR_KINDS",
    "CAPABILITIES",
    "DECLARED",
    "DIP_CALENDAR",
    "DIP_CUMULATIVE",
    "EVENTBRITE",
    "EVENTIX",
    "ICAL",
    "IDENTIFIER_MODES",
    "SCHEMAORG",
    "SNAPSHOT_KINDS",
    "STAGER",
    "TICKETING_KINDS",
    "TICKETMATIC",
    "UITDATABANK",
    "VENDOR_SYSTEMS",
    "Customer",
    "KindCaps",
    "Production",
    "Season",
    "SimPerformance",
    "Snapshot",
    "SnapshotLine",
    "TicketHappening",
    "VenueSpec",
]

# Ticketing source kinds (one per performance).
EVENTIX = "eventix"
EVENTBRITE = "eventbrite"
STAGER = "stager"
TICKETMATIC = "ticketmatic"
DIP_CUMULATIVE = "dip-cumulative"
BOXOFFICE_CSV = "boxoffice-csv"
TICKETING_KINDS = (EVENTIX, EVENTBRITE, STAGER, TICKETMATIC, DIP_CUMULATIVE, BOXOFFICE_CSV)
#: Kinds that report cumulative numbers (``ticketing.snapshots``), not single events.
SNAPSHOT_KINDS = (STAGER, DIP_CUMULATIVE)
#: No ticketing connector: the venue only declares availability in UiTdatabank or on its
#: schema.org page (``identifiers="real"`` seasons only; not a connector kind).
DECLARED = "declared"
#: ``real`` (the default): no source carries an identifier its real counterpart would not
#: (``connectors.simulator.realism``). ``linked``, only when asked for by name: every source
#: carries the canonical id (simulator conventions: vendor ids in UiT labels,
#: ``X-CULTUURBUS-ID``, canonical ids in schema.org pages).
IDENTIFIER_MODES = ("linked", "real")


@dataclass(frozen=True)
class KindCaps:
    """What a ticketing kind can express, so the season only makes what it can report.

    Attributes:
        holds: reservations (RESERVED / RESERVATION_RELEASED).
        blocks: blocked house seats (BLOCKED / UNBLOCKED).
        out_of_order: deliveries may arrive out of order (a refund before its sale);
            false for cursor feeds and for vendors whose webhook carries no data but a
            URL to fetch the *current* state (Eventbrite).
        carries_canonical: its ticket facts carry the DIP/UiT id themselves; if not,
            a calendar item must link the vendor id to the canonical id. (The
            box-office export has a DIP column but none for UiT ids: Flemish rows
            carry only the vendor id.)

    """

    holds: bool
    blocks: bool
    out_of_order: bool
    carries_canonical: bool


CAPABILITIES: dict[str, KindCaps] = {
    EVENTIX: KindCaps(holds=False, blocks=False, out_of_order=True, carries_canonical=True),
    EVENTBRITE: KindCaps(holds=False, blocks=False, out_of_order=False, carries_canonical=False),
    STAGER: KindCaps(holds=True, blocks=False, out_of_order=False, carries_canonical=True),
    TICKETMATIC: KindCaps(holds=False, blocks=False, out_of_order=False, carries_canonical=False),
    DIP_CUMULATIVE: KindCaps(holds=True, blocks=True, out_of_order=False, carries_canonical=True),
    BOXOFFICE_CSV: KindCaps(holds=False, blocks=False, out_of_order=True, carries_canonical=True),
    DECLARED: KindCaps(holds=False, blocks=False, out_of_order=False, carries_canonical=False),
}

#: The ``system`` part of each kind's vendor identifier (``vendor:<system>:<account>``).
VENDOR_SYSTEMS: dict[str, str] = {EVENTIX: "eventix", EVENTBRITE: "eventbrite", STAGER: "stager",
                                  TICKETMATIC: "ticketmatic", BOXOFFICE_CSV: "boxoffice"}

# Calendar source kinds (a performance may be on several).
DIP_CALENDAR = "dip-calendar"
UITDATABANK = "uitdatabank"
SCHEMAORG = "schemaorg"
ICAL = "ical"
CALENDAR_KINDS = (DIP_CALENDAR, UITDATABANK, SCHEMAORG, ICAL)


@dataclass(frozen=True)
class Customer:
    """A pseudo-customer with fake but realistic personal data (never on Kafka)."""

    id: str
    first_name: str
    last_name: str
    email: str
    phone: str
    street: str
    postcode: str
    city: str
    country: str
    birthdate: date

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def personal_values(self) -> list[str]:
        """Every raw personal value a privacy scan must never find on Kafka."""
        return [self.name, self.first_name + " " + self.last_name, self.email, self.phone,
                self.street, self.birthdate.isoformat()]


@dataclass(frozen=True)
class VenueSpec:
    """A theatre or cultural centre, in NL (on DIP) or BE (on UiTdatabank)."""

    key: str  # slug, also the vendor account name of this venue
    name: str
    country: str  # NL | BE
    city: str
    zipcode: str
    province_id: str
    province: str
    dip_theater_id: str | None
    uit_place_uuid: str | None
    halls: tuple[tuple[str, int], ...]  # (hall name, seats)
    calendar_feeds: tuple[str, ...] = ()  # SCHEMAORG / ICAL pages the venue publishes
    url: str = ""


@dataclass(frozen=True)
class Production:
    """A show (DIP production) touring several venues."""

    id: str  # DIP production id, e.g. NL-25-1234-5
    title: str
    genre: str
    producer_id: str
    producer: str
    base_price_cents: int
    venues: tuple[str, ...]  # venue keys of the tour


@dataclass(frozen=True)
class SimPerformance:
    """One showing: where, when, how big, who sells it and which ids describe it."""

    canonical_id: str  # key of the best identifier: dip > uit > vendor
    production_id: str
    venue: str  # venue key
    hall: str
    start: datetime
    end: datetime
    capacity: int
    on_sale: datetime
    status: str  # PerformanceStatus value at ``now``
    status_changed_at: datetime | None  # when it was cancelled/postponed
    ticketing: str  # one of TICKETING_KINDS
    account: str  # vendor account (the venue key)
    vendor_id: str | None  # the vendor's own event id (None for dip-cumulative)
    dip_number: int | None  # DIP performance number (NL only)
    uit_event: str | None  # UiTdatabank event uuid (BE only)
    uit_index: int | None  # subEvent index within ``uit_event``
    calendars: tuple[str, ...]  # calendar kinds describing it
    tickets_carry_canonical: bool  # False: ticket facts carry only the vendor id
    sold_out: bool = False  # demand exceeds capacity on purpose
    popularity: float = 0.6
    #: ``real`` seasons: the sector id namespace the vendor's own event carries in a custom
    #: field ("dip", "uit"), or "" for none; ``shop_link``: calendars publish the vendor's
    #: real ticket-shop URL (UiT ``bookingInfo.url`` of a one-date event, schema.org
    #: ``offers.url``), which identifies the vendor event.
    vendor_field: str = ""
    shop_link: bool = False


@dataclass(frozen=True)
class TicketHappening:
    """One thing that happened to tickets: maps to exactly one ``TicketEvent``.

    ``price_cents`` is the unit price; a cancellation or refund repeats the price of
    the sale it undoes so revenue nets out.
    """

    id: str
    performance: str  # canonical id
    event_type: str  # TicketEventType value
    quantity: int
    ticket_type: str  # TicketType value
    price_cents: int
    order_id: str
    ticket_ids: tuple[str, ...]
    channel: str
    customer_id: str | None
    event_time: datetime


@dataclass(frozen=True)
class SnapshotLine:
    ticket_type: str
    tickets: int
    revenue_cents: int


@dataclass(frozen=True)
class Snapshot:
    """Cumulative numbers of one performance at one moment (DIP style)."""

    id: str
    performance: str
    event_time: datetime
    lines: tuple[SnapshotLine, ...]
    reservations: int
    reservations_value_cents: int
    blocked_seats: int
    blocked_value_cents: int
    capacity: int

    @property
    def sold(self) -> int:
        return sum(line.tickets for line in self.lines)


@dataclass(frozen=True)
class Season:
    """A whole simulated season up to ``now``.

    ``happenings`` holds every ticket happening of every performance (also of
    snapshot-sourced ones, whose vendors report them only as ``snapshots``);
    ``delivery`` is the order in which sources hand happenings over (mostly by time,
    with some refunds delivered before their sale on purpose).
    """

    seed: int
    now: datetime
    params: dict[str, int]
    venues: tuple[VenueSpec, ...]
    productions: tuple[Production, ...]
    performances: tuple[SimPerformance, ...]
    customers: tuple[Customer, ...]
    happenings: tuple[TicketHappening, ...]
    snapshots: tuple[Snapshot, ...]
    delivery: tuple[str, ...] = field(default=())  # happening ids in delivery order
    identifiers: str = "real"  # IDENTIFIER_MODES
    unlinked_share: float = 0.0  # real: share of vendor events carrying no sector id

    @property
    def real(self) -> bool:
        """Whether sources carry only the identifiers their real counterparts carry."""
        return self.identifiers == "real"

    def venue(self, key: str) -> VenueSpec:
        return self._venues()[key]

    def production(self, pid: str) -> Production:
        return self._productions()[pid]

    def performance(self, canonical_id: str) -> SimPerformance:
        return self._performances()[canonical_id]

    def customer(self, cid: str) -> Customer:
        return self._customers()[cid]

    def started(self, perf: SimPerformance) -> bool:
        """Whether the performance had started at ``now`` (and was not called off)."""
        return perf.start <= self.now and perf.status == "SCHEDULED"

    def _venues(self) -> dict[str, VenueSpec]:
        return _index(self, "_v", lambda: {v.key: v for v in self.venues})

    def _productions(self) -> dict[str, Production]:
        return _index(self, "_p", lambda: {p.id: p for p in self.productions})

    def _performances(self) -> dict[str, SimPerformance]:
        return _index(self, "_perf", lambda: {p.canonical_id: p for p in self.performances})

    def _customers(self) -> dict[str, Customer]:
        return _index(self, "_c", lambda: {c.id: c for c in self.customers})

    def to_json(self) -> str:
        """The whole season as canonical JSON (sorted keys): equal seeds, equal bytes."""
        return json.dumps(asdict(self), sort_keys=True, default=_json_default,
                          separators=(",", ":"))


def _index(season: Season, name: str, build: Callable[[], dict[str, Any]]) -> Any:
    """The season's index ``name``, built on first use only (a delivery looks up its
    performance and buyer: building the index each time cost 7% of a run's CPU)."""
    cache = season.__dict__.get(name)
    if cache is None:
        cache = build()
        object.__setattr__(season, name, cache)
    return cache


def _json_default(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")

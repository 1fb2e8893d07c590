"""Pydantic models that mirror the Avro contract in ``schemas/avro``.

Each model names its schema file in ``__avro_schema__``; ``tests/unit/schemas`` proves
that the two agree field by field (names, order, types, nullability, defaults, enum
symbols). Validation here is what a connector runs before anything reaches Kafka.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator

from schemas.base import TIMESTAMP_MAX, TIMESTAMP_MIN, AvroModel, Int, Long, Timestamp, utcnow
from schemas.declared import DeclaredAvailability, DeclaredStatus, Reconciliation, ReconciliationState

_POSTCODE_AREA = re.compile(r"^[0-9]{4}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

__all__ = [
    "Attendance",
    "Availability",
    "AvailabilityStatus",
    "AvroModel",
    "Int",
    "Long",
    "Timestamp",
    "TIMESTAMP_MAX",
    "TIMESTAMP_MIN",
    "Buyer",
    "DeclaredAvailability", "DeclaredStatus", "Reconciliation", "ReconciliationState",
    "IdentityLink",
    "Identifier",
    "LastMinuteOffer",
    "Performance",
    "PerformanceStatus",
    "SalesSnapshot",
    "SalesWindow",
    "SnapshotLine",
    "TicketEvent",
    "TicketEventType",
    "TicketType",
    "Venue",
    "WindowGranularity",
    "utcnow",
]

class TicketEventType(StrEnum):
    SOLD = "SOLD"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"
    RESERVED = "RESERVED"
    RESERVATION_RELEASED = "RESERVATION_RELEASED"
    BLOCKED = "BLOCKED"
    UNBLOCKED = "UNBLOCKED"
    SCANNED = "SCANNED"


class TicketType(StrEnum):
    NORMAL = "NORMAL"
    DISCOUNT = "DISCOUNT"
    FREE = "FREE"
    OTHER = "OTHER"


class PerformanceStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    POSTPONED = "POSTPONED"
    CANCELLED = "CANCELLED"
    MOVED_ONLINE = "MOVED_ONLINE"


class AvailabilityStatus(StrEnum):
    AVAILABLE = "AVAILABLE"
    LIMITED = "LIMITED"
    SOLD_OUT = "SOLD_OUT"
    CANCELLED = "CANCELLED"
    POSTPONED = "POSTPONED"
    UNKNOWN = "UNKNOWN"


class WindowGranularity(StrEnum):
    HOUR = "HOUR"
    DAY = "DAY"


class Identifier(AvroModel):
    """One identifier of a performance in one namespace."""

    __avro_schema__ = "org.cultuurbus.common.Identifier"
    namespace: str = Field(min_length=1)
    value: str = Field(min_length=1)

    @property
    def key(self) -> str:
        """``namespace|value``: the performance key and crosswalk key of this identifier."""
        return f"{self.namespace}|{self.value}"

    @classmethod
    def dip(cls, production_id: str, number: int | str) -> Identifier:
        """A DIP performance, in DIP's own form ``<PRODUCTION>|<NNNNN>``.

        The production id is stripped and upper-cased, the number zero-padded to five
        digits (DIP writes ``NL-00-000-0000000|00000``), so every source builds the
        same key for one performance.

        Raises:
            ValueError: an empty production id (or with ``|`` or spaces), or a number
                that is not an integer from 0 to 99999.

        """
        prod = production_id.strip().upper() if isinstance(production_id, str) else ""
        # not isprintable(): every space but " " is a control or separator character
        if not prod or "|" in prod or " " in prod or not prod.isprintable():
            raise ValueError(f"DIP production id {str(production_id)[:40]!r} must be non-empty "
                             "text without '|' or spaces, e.g. 'NL-23-1234-5'")
        return cls(namespace="dip", value=f"{prod}|{_dip_number(number):05d}")

    @classmethod
    def uit(cls, event_uuid: str, sub_event: int) -> Identifier:
        """A UiTdatabank performance: event uuid (lower case) + subEvent index; a
        ValueError for what is not a uuid, or not an index >= 0."""
        if isinstance(sub_event, bool) or not isinstance(sub_event, int) or sub_event < 0:
            raise ValueError(f"UiTdatabank subEvent index {sub_event!r} must be an integer >= 0")
        return cls(namespace="uit", value=f"{_uit_uuid(event_uuid)}#{sub_event}")

    @classmethod
    def uit_at(cls, event_uuid: str, start: datetime) -> Identifier:
        """A UiTdatabank performance by event uuid and start time (UTC, to the minute):
        ``<uuid>@2026-12-04T19:30Z``. SubEvent indexes are positions that a calendar edit
        renumbers; the start is what a vendor that only knows the event id can match on.
        A ValueError for what is not a uuid, or a start without a time zone.
        """
        if not isinstance(start, datetime) or start.tzinfo is None:
            raise ValueError(f"start {start!r} of UiTdatabank event {event_uuid!r} needs a time zone")
        at = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")
        return cls(namespace="uit", value=f"{_uit_uuid(event_uuid)}@{at}")

    @classmethod
    def vendor(cls, system: str, account: str, local_id: str | int) -> Identifier:
        """A ticketing vendor's own event/performance id, within one account."""
        return cls(namespace=f"vendor:{system}:{account}", value=str(local_id))

    @classmethod
    def vendor_global(cls, system: str, local_id: str | int) -> Identifier:
        """A vendor id unique across its accounts (Eventbrite's), as a shop link names it."""
        return cls(namespace=f"vendor:{system}", value=str(local_id))


_UUID_TEXT = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _uit_uuid(value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not _UUID_TEXT.match(text):
        raise ValueError(f"UiTdatabank event id {str(value)[:60]!r} is not a uuid such as "
                         "'5f0c7a3e-1b2d-4c8e-9a6f-0d1e2f3a4b5c'")
    return text.lower()


def _dip_number(number: Any) -> int:
    text = number.strip() if isinstance(number, str) else ""
    n = (number if isinstance(number, int) and not isinstance(number, bool)
         else int(text) if text.isascii() and text.isdigit() else -1)
    if not 0 <= n <= 99_999:
        raise ValueError(f"DIP performance number {str(number)[:20]!r} must be an integer from 0 "
                         "to 99999 (DIP writes it as five digits, e.g. 00003)")
    return n


class Buyer(AvroModel):
    """A pseudonymised buyer; raw personal data has no field to go in."""

    __avro_schema__ = "org.cultuurbus.ticketing.Buyer"
    id_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    postcode_area: str | None = None
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    birth_year: Int | None = Field(default=None, ge=1900, le=2100)

    @field_validator("postcode_area")
    @classmethod
    def _four_digits(cls, v: str | None) -> str | None:
        if v is not None and not _POSTCODE_AREA.match(v):
            raise ValueError("postcode_area must be 4 digits (NL area or BE postcode)")
        return v


class _Fact(AvroModel):
    fact_id: str = Field(min_length=1)
    event_time: Timestamp
    ingested_at: Timestamp
    source_system: str = Field(min_length=1)
    source_account: str = Field(min_length=1)
    performance_key: str = Field(min_length=1)
    identifiers: list[Identifier] = Field(default_factory=list)


class TicketEvent(_Fact):
    """Something that happened to tickets of one performance."""

    __avro_schema__ = "ticket_event.avsc"
    event_type: TicketEventType
    quantity: Int = Field(ge=1, le=100_000)
    ticket_type: TicketType = TicketType.OTHER
    price_cents: Long = Field(default=0, ge=0)
    currency: str = "EUR"
    order_id: str | None = None
    ticket_ids: list[str] = Field(default_factory=list)
    channel: str | None = None
    buyer: Buyer | None = None

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, v: str) -> str:
        if not _CURRENCY.match(v):
            raise ValueError("currency must be an ISO 4217 code such as EUR")
        return v


class SnapshotLine(AvroModel):
    """Cumulative tickets and revenue of one ticket type."""

    __avro_schema__ = "org.cultuurbus.ticketing.SnapshotLine"
    ticket_type: TicketType
    tickets: Int = Field(ge=0)
    revenue_cents: Long


class SalesSnapshot(_Fact):
    """Cumulative sales of one performance, DIP style."""

    __avro_schema__ = "sales_snapshot.avsc"
    lines: list[SnapshotLine] = Field(default_factory=list)
    reservations: Int = Field(default=0, ge=0)
    reservations_value_cents: Long = 0
    blocked_seats: Int = Field(default=0, ge=0)
    blocked_value_cents: Long = 0
    capacity: Int | None = Field(default=None, ge=0)
    currency: str = "EUR"
    declared: DeclaredAvailability | None = None


class Venue(AvroModel):
    """Where a performance takes place."""

    __avro_schema__ = "org.cultuurbus.calendar.Venue"
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    city: str | None = None
    postcode: str | None = None
    #: ISO 3166-1 alpha-2; None when the source does not say (a Ticketmatic location has no
    #: address): never guessed.
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    region: str | None = None


class Performance(_Fact):
    """One showing of a production, as a calendar source describes it."""

    __avro_schema__ = "performance.avsc"
    production_id: str | None = None
    production_other_events: list[str] = Field(default_factory=list)
    title: str = Field(min_length=1)
    genre: str | None = None
    venue: Venue
    hall: str | None = None
    start: Timestamp
    end: Timestamp | None = None
    capacity: Int | None = Field(default=None, ge=0)
    status: PerformanceStatus = PerformanceStatus.SCHEDULED
    on_sale_from: Timestamp | None = None
    url: str | None = None
    declared: DeclaredAvailability | None = None


class IdentityLink(AvroModel):
    """A crosswalk entry: identifier -> canonical performance id."""

    __avro_schema__ = "identity_link.avsc"
    namespace: str
    value: str
    performance_id: str
    learned_from: str
    event_time: Timestamp
    reason: str = "identifier"
    score: float | None = None
    decided_by: str | None = None


class Availability(AvroModel):
    """Live seat availability of one performance."""

    __avro_schema__ = "availability.avsc"
    performance_id: str
    capacity: Int | None = None
    sold: Int = 0
    reserved: Int = 0
    blocked: Int = 0
    refunded: Int = 0
    remaining: Int | None = None
    status: AvailabilityStatus
    uit_booking_availability_type: str = "Available"
    schema_org_availability: str = "https://schema.org/InStock"
    title: str | None = None
    venue_name: str | None = None
    city: str | None = None
    region: str | None = None
    genre: str | None = None
    start: Timestamp | None = None
    last_fact_time: Timestamp | None = None
    updated_at: Timestamp
    version: Long = 0
    basis: str = "computed"
    declared_status: str | None = None
    declared_remaining: Int | None = None
    declared_source: str | None = None
    declared_at: Timestamp | None = None
    drift: Int | None = None
    production_keys: list[str] = Field(default_factory=list)


class Attendance(AvroModel):
    """Door scans of one performance."""

    __avro_schema__ = "attendance.avsc"
    performance_id: str
    scanned: Int = 0
    sold: Int = 0
    no_shows: Int | None = None
    first_scan_time: Timestamp | None = None
    last_scan_time: Timestamp | None = None
    start: Timestamp | None = None
    updated_at: Timestamp


class SalesWindow(AvroModel):
    """Tickets and revenue of one performance in one window."""

    __avro_schema__ = "sales_window.avsc"
    performance_id: str
    granularity: WindowGranularity
    window_start: Timestamp
    ticket_type: TicketType
    channel: str = "unknown"
    tickets: Int = 0
    revenue_cents: Long = 0
    days_before_show: Int | None = None
    updated_at: Timestamp


class LastMinuteOffer(AvroModel):
    """A performance starting soon that still has seats."""

    __avro_schema__ = "lastminute_offer.avsc"
    performance_id: str
    title: str
    venue_name: str
    city: str | None = None
    region: str | None = None
    genre: str | None = None
    start: Timestamp
    remaining: Int = Field(ge=0)
    capacity: Int = Field(ge=0)
    status: AvailabilityStatus
    url: str | None = None
    updated_at: Timestamp

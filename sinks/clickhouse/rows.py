"""Records -> ClickHouse rows: pure functions, no I/O.

Every function takes a record as fastavro decoded it (dict; timestamps as epoch
milliseconds, which is how the sink decodes them, or as datetimes) plus where it came
from, and returns a :class:`Row` whose values follow ``COLUMNS[table]``. Timestamps go
to ClickHouse as epoch milliseconds: the ticks of a ``DateTime64(3)`` column, written
as they are (no datetime objects built and taken apart again for every row).

Nothing personal beyond the pseudonymised buyer fields is copied (no order ids, no ticket
ids), and those fields are checked to really be pseudonyms: a record that carries
anything else is refused (it goes to the dead-letter topic).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sinks.clickhouse.errors import MappingError

__all__ = [
    "COLUMNS",
    "FACT_KINDS",
    "FACT_MAPPERS",
    "Row",
    "Source",
    "attendance_row",
    "availability_row",
    "identity_row",
    "lastminute_row",
    "performance_row",
    "sales_window_row",
    "snapshot_row",
    "ticket_row",
    "unmatched_row",
    "venue_link_row",
]

_ID_HASH = re.compile(r"^[0-9a-f]{64}$")
_AREA = re.compile(r"^[0-9]{4}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")

#: Fact kinds on ``participation.facts`` (header ``cultuurbus.kind``) and their tables.
FACT_KINDS: dict[str, str] = {"ticket": "ticket_facts", "snapshot": "sales_snapshots",
                              "performance": "performances"}

_KAFKA = ("kafka_partition", "kafka_offset")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

#: Insert columns per table, in the order :class:`Row` values follow.
COLUMNS: dict[str, tuple[str, ...]] = {
    "ticket_facts": (
        "fact_id", "performance_id", "performance_key", "event_type", "event_time", "ingested_at",
        "quantity", "ticket_type", "price_cents", "currency", "channel", "source", "source_account",
        "buyer_id_hash", "postcode_area", "country", "birth_year", *_KAFKA),
    "sales_snapshots": (
        "fact_id", "performance_id", "performance_key", "event_time", "ingested_at", "source",
        "source_account", "line_ticket_types", "line_tickets", "line_revenue_cents", "reservations",
        "reservations_value_cents", "blocked_seats", "blocked_value_cents", "capacity", "currency",
        *_KAFKA),
    "performances": (
        "performance_id", "fact_id", "event_time", "ingested_at", "source", "source_account",
        "performance_key", "production_id", "title", "genre", "venue_id", "venue_name", "city",
        "venue_postcode", "region", "country", "hall", "start", "end_time", "capacity", "status",
        "on_sale_from", "url", *_KAFKA),
    "availability_history": (
        "performance_id", "version", "updated_at", "capacity", "sold", "reserved", "blocked",
        "refunded", "remaining", "status", "uit_booking_availability_type",
        "schema_org_availability", "title", "venue_name", "city", "region", "genre", "start",
        "last_fact_time", *_KAFKA),
    "attendance": (
        "performance_id", "scanned", "sold", "no_shows", "first_scan_time", "last_scan_time",
        "start", "updated_at", *_KAFKA),
    "sales_windows": (
        "performance_id", "granularity", "window_start", "ticket_type", "channel", "tickets",
        "revenue_cents", "days_before_show", "updated_at", *_KAFKA),
    "lastminute_offers": (
        "performance_id", "withdrawn", "title", "venue_name", "city", "region", "genre", "start",
        "remaining", "capacity", "status", "url", "updated_at", *_KAFKA),
    "identity_links": (
        "namespace", "value", "performance_id", "learned_from", "event_time", *_KAFKA),
    "unmatched_facts": (
        "fact_id", "kind", "performance_key", "event_time", "ingested_at", "source",
        "source_account", *_KAFKA),
    "venue_links": (
        "venue_id", "canonical_id", "reason", "score", "evidence", "via", "name", "city", "postcode",
        "country", "candidate_id", "candidate_score", "updated_at", *_KAFKA),
}


class Source(NamedTuple):
    """Where a record came from: Kafka key (decoded), partition, offset, timestamp (ms).

    A named tuple, not a dataclass: one is built per record, at half the cost.
    """

    key: str
    partition: int
    offset: int
    timestamp_ms: int = 0


class Row(NamedTuple):
    """One row for ``table``; ``event_time`` feeds the event-age metric."""

    table: str
    values: tuple[Any, ...]
    event_time: int  # epoch milliseconds


def _ts(value: Any, field: str) -> int:
    """Epoch milliseconds (the ticks of a ``DateTime64(3)`` column)."""
    if type(value) is int:
        return value
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return (aware - _EPOCH) // _MS
    raise MappingError(f"{field}: expected a timestamp, got {type(value).__name__}", field)


def _ts_opt(value: Any, field: str) -> int | None:
    return None if value is None else _ts(value, field)


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _canonical(src: Source, rec: Mapping[str, Any]) -> str:
    """The canonical performance id: the Kafka key on the canonical topics."""
    pid = src.key or _str(rec.get("performance_id"))
    if not pid:
        raise MappingError("the record has no canonical performance id (empty Kafka key)",
                           "performance_id")
    return pid


def _buyer(rec: Mapping[str, Any]) -> tuple[str, str, str, int | None]:
    buyer = rec.get("buyer")
    if not buyer:
        return "", "", "", None
    id_hash = _str(buyer.get("id_hash"))
    if not _ID_HASH.match(id_hash):
        raise MappingError("buyer.id_hash is not a 64-hex HMAC pseudonym; refusing to store it "
                           "(fix the connector's pseudonymisation)", "buyer.id_hash")
    area = _str(buyer.get("postcode_area"))
    if area and not _AREA.match(area):
        raise MappingError("buyer.postcode_area must be a 4-digit area, never a full address",
                           "buyer.postcode_area")
    country = _str(buyer.get("country"))
    if country and not _COUNTRY.match(country):
        raise MappingError("buyer.country must be ISO 3166-1 alpha-2", "buyer.country")
    year = buyer.get("birth_year")
    if year is not None and not 1900 <= int(year) <= 2100:
        raise MappingError("buyer.birth_year must be a year (1900-2100), never a date",
                           "buyer.birth_year")
    return id_hash, area, country, None if year is None else int(year)


def ticket_row(rec: Mapping[str, Any], src: Source) -> Row:
    """A ticket fact (``TicketEvent``) -> one ``ticket_facts`` row."""
    quantity = int(rec["quantity"])
    if quantity < 0:
        raise MappingError(f"quantity {quantity} is negative; a fact counts tickets (>= 1)",
                           "quantity")
    price = int(rec.get("price_cents") or 0)
    if price < 0:
        raise MappingError(f"price_cents {price} is negative", "price_cents")
    event_time = _ts(rec["event_time"], "event_time")
    id_hash, area, country, year = _buyer(rec)
    get = rec.get  # string fields decode as str or None: ``or ""`` is _str, without a call each
    return Row("ticket_facts", (
        str(rec["fact_id"]), _canonical(src, rec), get("performance_key") or "",
        str(rec["event_type"]), event_time, _ts(rec["ingested_at"], "ingested_at"), quantity,
        get("ticket_type") or "OTHER", price, get("currency") or "EUR", get("channel") or "unknown",
        get("source_system") or "", get("source_account") or "", id_hash, area, country, year,
        src.partition, src.offset,
    ), event_time)


def snapshot_row(rec: Mapping[str, Any], src: Source) -> Row:
    """A cumulative ``SalesSnapshot`` -> one ``sales_snapshots`` row (lines as arrays)."""
    lines = rec.get("lines") or []
    event_time = _ts(rec["event_time"], "event_time")
    capacity = rec.get("capacity")
    return Row("sales_snapshots", (
        str(rec["fact_id"]), _canonical(src, rec), _str(rec.get("performance_key")), event_time,
        _ts(rec["ingested_at"], "ingested_at"), _str(rec.get("source_system")),
        _str(rec.get("source_account")),
        [str(line["ticket_type"]) for line in lines], [int(line["tickets"]) for line in lines],
        [int(line["revenue_cents"]) for line in lines], int(rec.get("reservations") or 0),
        int(rec.get("reservations_value_cents") or 0), int(rec.get("blocked_seats") or 0),
        int(rec.get("blocked_value_cents") or 0), None if capacity is None else int(capacity),
        _str(rec.get("currency")) or "EUR", src.partition, src.offset,
    ), event_time)


def performance_row(rec: Mapping[str, Any], src: Source) -> Row:
    """A calendar ``Performance`` -> one ``performances`` row (latest event time wins)."""
    venue = rec.get("venue") or {}
    event_time = _ts(rec["event_time"], "event_time")
    capacity = rec.get("capacity")
    return Row("performances", (
        _canonical(src, rec), str(rec["fact_id"]), event_time,
        _ts(rec["ingested_at"], "ingested_at"), _str(rec.get("source_system")),
        _str(rec.get("source_account")), _str(rec.get("performance_key")),
        _str(rec.get("production_id")), _str(rec.get("title")), _str(rec.get("genre")),
        _str(venue.get("id")), _str(venue.get("name")), _str(venue.get("city")),
        _str(venue.get("postcode")), _str(venue.get("region")), _str(venue.get("country")),
        _str(rec.get("hall")), _ts(rec["start"], "start"), _ts_opt(rec.get("end"), "end"),
        None if capacity is None else int(capacity), _str(rec.get("status")) or "SCHEDULED",
        _ts_opt(rec.get("on_sale_from"), "on_sale_from"), _str(rec.get("url")), src.partition, src.offset,
    ), event_time)


def availability_row(rec: Mapping[str, Any], src: Source) -> Row:
    """An ``Availability`` -> one ``availability_history`` row (the view keeps the current one)."""
    updated = _ts(rec["updated_at"], "updated_at")
    version = int(rec.get("version") or 0)
    if version < 0:
        raise MappingError(f"version {version} is negative; it counts applied facts", "version")
    get = rec.get  # string fields decode as str or None: ``or ""`` is _str, without a call each
    return Row("availability_history", (
        _canonical(src, rec), version, updated, get("capacity"),
        int(get("sold") or 0), int(get("reserved") or 0), int(get("blocked") or 0),
        int(get("refunded") or 0), get("remaining"), get("status") or "UNKNOWN",
        get("uit_booking_availability_type") or "", get("schema_org_availability") or "",
        get("title") or "", get("venue_name") or "", get("city") or "", get("region") or "",
        get("genre") or "", _ts_opt(get("start"), "start"),
        _ts_opt(get("last_fact_time"), "last_fact_time"), src.partition, src.offset,
    ), updated)


def attendance_row(rec: Mapping[str, Any], src: Source) -> Row:
    """An ``Attendance`` -> one ``attendance`` row."""
    updated = _ts(rec["updated_at"], "updated_at")
    return Row("attendance", (
        _canonical(src, rec), int(rec.get("scanned") or 0), int(rec.get("sold") or 0),
        rec.get("no_shows"), _ts_opt(rec.get("first_scan_time"), "first_scan_time"),
        _ts_opt(rec.get("last_scan_time"), "last_scan_time"), _ts_opt(rec.get("start"), "start"),
        updated, src.partition, src.offset,
    ), updated)


def sales_window_row(rec: Mapping[str, Any], src: Source) -> Row:
    """A ``SalesWindow`` -> one ``sales_windows`` row (keyed by its window, not the Kafka key)."""
    updated = _ts(rec["updated_at"], "updated_at")
    get = rec.get
    pid = get("performance_id")  # the Kafka key is the window key, not the id
    if not pid:
        raise MappingError("sales window without performance_id", "performance_id")
    return Row("sales_windows", (
        pid, str(rec["granularity"]), _ts(rec["window_start"], "window_start"),
        get("ticket_type") or "OTHER", get("channel") or "unknown",
        int(get("tickets") or 0), int(get("revenue_cents") or 0),
        get("days_before_show"), updated, src.partition, src.offset,
    ), updated)


def lastminute_row(rec: Mapping[str, Any] | None, src: Source) -> Row:
    """A ``LastMinuteOffer`` -> a ``lastminute_offers`` row; a tombstone (None) withdraws it.

    The Kafka offset is the version: one key always lives on one partition, so a later
    offset is a later state, tombstones included (they carry no ``updated_at``).
    """
    if rec is None:
        when = src.timestamp_ms or 0
        if not src.key:
            raise MappingError("last-minute tombstone without a key", "key")
        return Row("lastminute_offers", (src.key, 1, "", "", "", "", "", None, 0, 0, "", "", when,
                                         src.partition, src.offset), when)
    updated = _ts(rec["updated_at"], "updated_at")
    return Row("lastminute_offers", (
        _canonical(src, rec), 0, _str(rec.get("title")), _str(rec.get("venue_name")),
        _str(rec.get("city")), _str(rec.get("region")), _str(rec.get("genre")),
        _ts(rec["start"], "start"), int(rec["remaining"]), int(rec["capacity"]),
        _str(rec.get("status")), _str(rec.get("url")), updated, src.partition, src.offset,
    ), updated)


def identity_row(rec: Mapping[str, Any], src: Source) -> Row:
    """An ``IdentityLink`` -> one ``identity_links`` row."""
    event_time = _ts(rec["event_time"], "event_time")
    return Row("identity_links", (
        str(rec["namespace"]), str(rec["value"]), str(rec["performance_id"]),
        _str(rec.get("learned_from")), event_time, src.partition, src.offset,
    ), event_time)


def venue_link_row(rec: Mapping[str, Any], src: Source) -> Row:
    """A ``VenueLink`` -> one ``venue_links`` row (the venue crosswalk)."""
    updated = _ts(rec["updated_at"], "updated_at")
    return Row("venue_links", (
        str(rec["venue_id"]), str(rec["canonical_id"]), str(rec["reason"]), rec.get("score"),
        _str(rec.get("evidence")), _str(rec.get("via")), _str(rec.get("name")), _str(rec.get("city")),
        _str(rec.get("postcode")), _str(rec.get("country")), _str(rec.get("candidate_id")),
        rec.get("candidate_score"), updated, src.partition, src.offset,
    ), updated)


def unmatched_row(kind: str, rec: Mapping[str, Any], src: Source) -> Row:
    """A parked fact -> one ``unmatched_facts`` row (no buyer fields, just what and when)."""
    event_time = _ts(rec["event_time"], "event_time")
    return Row("unmatched_facts", (
        str(rec["fact_id"]), kind, _str(rec.get("performance_key")) or src.key, event_time,
        _ts(rec["ingested_at"], "ingested_at"), _str(rec.get("source_system")),
        _str(rec.get("source_account")), src.partition, src.offset,
    ), event_time)


#: Fact kind -> mapper, for ``participation.facts``.
FACT_MAPPERS: dict[str, Callable[[Mapping[str, Any], Source], Row]] = {
    "ticket": ticket_row, "snapshot": snapshot_row, "performance": performance_row,
}

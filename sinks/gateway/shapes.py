"""What the gateway says: JSON shapes of records, and the parsing of request parameters.

Pure functions; no I/O. Times go out as ISO 8601 in UTC (``start``) and in the venue's
zone, Europe/Amsterdam (``start_local``, which also covers Flanders: same offsets).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from schemas.models import TIMESTAMP_MAX, TIMESTAMP_MIN
from sinks.gateway.errors import BadParameterError

__all__ = [
    "LOCAL_TZ",
    "STATUSES",
    "availability_doc",
    "iso_local",
    "iso_utc",
    "offer_doc",
    "parse_days",
    "parse_instant",
    "parse_limit",
    "parse_min",
    "parse_statuses",
    "to_ms",
]

LOCAL_TZ = ZoneInfo("Europe/Amsterdam")
STATUSES = ("AVAILABLE", "LIMITED", "SOLD_OUT", "CANCELLED", "POSTPONED", "UNKNOWN")
MAX_LIMIT = 1000


def to_ms(value: datetime | int | None) -> int | None:
    """Epoch milliseconds of a fastavro timestamp (aware datetime) or an int."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


def _aware(value: datetime | int | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value / 1000, UTC)


def iso_utc(value: datetime | int | None) -> str | None:
    """``2025-06-01T18:30:00.000Z`` or None."""
    dt = _aware(value)
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_local(value: datetime | int | None) -> str | None:
    """``2025-06-01T20:30:00+02:00`` (Europe/Amsterdam) or None."""
    dt = _aware(value)
    return None if dt is None else dt.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def availability_doc(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON of one Availability record, with UiTdatabank's ``bookingAvailability``
    (``type``, ``capacity``, ``remainingCapacity``) and schema.org's ``offers.availability``;
    ``basis`` says whether remaining rests on counted sales or on a declaration, ``declared``
    what a calendar or vendor declared (and the drift from the count), or null;
    ``production_keys`` the productions its descriptions name (``/v1/productions/...``).
    """
    booking: dict[str, Any] = {"type": rec.get("uit_booking_availability_type") or "Available"}
    if rec.get("capacity") is not None:
        booking["capacity"] = rec["capacity"]
    if rec.get("remaining") is not None:
        booking["remainingCapacity"] = rec["remaining"]
    return {
        **_performance(rec),
        "capacity": rec.get("capacity"),
        "sold": rec.get("sold", 0),
        "reserved": rec.get("reserved", 0),
        "blocked": rec.get("blocked", 0),
        "refunded": rec.get("refunded", 0),
        "remaining": rec.get("remaining"),
        "status": rec.get("status", "UNKNOWN"),
        "last_fact_time": iso_utc(rec.get("last_fact_time")),
        "updated_at": iso_utc(rec.get("updated_at")),
        "version": rec.get("version", 0),
        "bookingAvailability": booking,
        "offers": {"@type": "Offer",
                   "availability": rec.get("schema_org_availability") or "https://schema.org/InStock"},
        "basis": rec.get("basis") or "computed",
        "declared": None if rec.get("declared_source") is None else {
            "status": rec.get("declared_status"), "remaining": rec.get("declared_remaining"),
            "source": rec.get("declared_source"), "at": iso_utc(rec.get("declared_at")),
            "drift": rec.get("drift")},
        "production_keys": list(rec.get("production_keys") or ()),
    }


def _performance(rec: Mapping[str, Any]) -> dict[str, Any]:
    """What both documents say of the performance itself, first and in this order."""
    return {
        "performance_id": rec["performance_id"],
        "title": rec.get("title"),
        "venue_name": rec.get("venue_name"),
        "city": rec.get("city"),
        "region": rec.get("region"),
        "genre": rec.get("genre"),
        "start": iso_utc(rec.get("start")),
        "start_local": iso_local(rec.get("start")),
    }


def offer_doc(rec: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON of one LastMinuteOffer record."""
    return {
        **_performance(rec),
        "remaining": rec.get("remaining"),
        "capacity": rec.get("capacity"),
        "status": rec.get("status", "UNKNOWN"),
        "url": rec.get("url"),
        "updated_at": iso_utc(rec.get("updated_at")),
    }


# -- parameters --------------------------------------------------------------------------


def parse_limit(value: int | None, default: int = 100) -> int:
    """A result limit between 0 and 1000."""
    if value is None:
        return default
    if value < 0 or value > MAX_LIMIT:
        raise BadParameterError("limit", f"must be between 0 and {MAX_LIMIT}, got {value}")
    return value


def parse_min(value: int | None, name: str) -> int | None:
    if value is not None and value < 0:
        raise BadParameterError(name, f"must be 0 or more, got {value}")
    return value


def parse_statuses(value: str | None) -> frozenset[str] | None:
    """``LIMITED`` or ``available,limited`` -> a set of statuses; unknown values are refused,
    empty items ignored (nothing at all: no filter)."""
    out = set()
    for part in _items(value):
        status = part.upper()
        if status not in STATUSES:
            raise BadParameterError("status", f"unknown status {part!r}; use one or more "
                                    f"of {', '.join(STATUSES)} separated by commas")
        out.add(status)
    return frozenset(out) or None


def _items(value: str | None) -> list[str]:
    """The non-blank items of a comma list, stripped."""
    return [p for p in (part.strip() for part in (value or "").split(",")) if p]


def _one_day(part: str, today: date) -> date:
    word = part.strip().lower()
    if word == "today":
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise BadParameterError("date", f"{part.strip()!r} is not a date; use YYYY-MM-DD, today "
                                "or tomorrow (several separated by commas)") from None


def parse_days(value: str | None, now: datetime) -> frozenset[date] | None:
    """``today``, ``tomorrow``, ``2025-06-01`` or a comma list -> local (Amsterdam) dates
    (empty items ignored; nothing at all: no filter)."""
    today = now.astimezone(LOCAL_TZ).date()
    return frozenset(_one_day(part, today) for part in _items(value)) or None


def parse_instant(value: str | None, name: str, *, end_of_day: bool = False) -> datetime | None:
    """An ISO date or date-time as an aware datetime.

    A bare date is local midnight (Europe/Amsterdam); with ``end_of_day`` it is the next
    local midnight, so ``to=2025-06-01`` includes that whole day. A date-time without an
    offset is local time. Years outside what the contract carries (``9999-12-31``) are a 400.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
        if day is not None:
            _in_range(day.year, text, name)
            if end_of_day:
                day += timedelta(days=1)
            return datetime.combine(day, time(0), LOCAL_TZ)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadParameterError(name, f"{text!r} is not an ISO 8601 date (YYYY-MM-DD) or date-time "
                                "(YYYY-MM-DDTHH:MM[:SS][+01:00|Z])") from None
    _in_range(dt.year, text, name)
    return dt if dt.tzinfo else dt.replace(tzinfo=LOCAL_TZ)


def _in_range(year: int, text: str, name: str) -> None:
    """Times the bus carries are within the contract's years; others are a 400."""
    if not TIMESTAMP_MIN.year <= year <= TIMESTAMP_MAX.year:
        raise BadParameterError(name, f"{text!r} is outside the dates the bus carries (years "
                                f"{TIMESTAMP_MIN.year} to {TIMESTAMP_MAX.year})")

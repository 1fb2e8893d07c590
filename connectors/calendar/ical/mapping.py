"""iCalendar (RFC 5545) feed -> ``Performance`` facts, one per occurrence.

Parsing with ``icalendar``; recurrence (RRULE, RDATE, EXDATE, RECURRENCE-ID
overrides) expanded by ``recurring-ical-events`` between ``now - lookback`` and
``now + horizon``. Each UID is expanded on its own, so one broken series becomes a
dead letter without stopping the rest of the feed.

Performance key: ``Identifier("ical:<feed>", "<UID>@<original start, UTC ISO>")``;
the original start is the RECURRENCE-ID, so an occurrence that is moved keeps its
key. Times: TZID-aware values in their zone; floating values and all-day dates in
the calendar's ``X-WR-TIMEZONE`` if it has one, else the feed's configured zone
(default Europe/Amsterdam, the same offsets as Europe/Brussels).

Status: ``STATUS`` CANCELLED -> CANCELLED; CONFIRMED, TENTATIVE or none ->
SCHEDULED (a tentative show is still planned; iCalendar cannot say postponed or
online). ``SUMMARY`` -> title, ``LOCATION`` -> venue name (or the hall, when the
feed has a configured venue), ``URL`` -> url, ``DTEND`` (when after the start) ->
end; capacity is null unless the feed configures a default. event_time =
``LAST-MODIFIED``, else ``DTSTAMP``, else the feed's Last-Modified/fetch time.

Version (and fact_id = ``ical|<key>|<SEQUENCE>|<version>``): a hash of the mapped
occurrence, its SEQUENCE and LAST-MODIFIED, not DTSTAMP (which many servers set to
the export time): an unchanged event publishes nothing, a changed one publishes
again. Partner ids: ``X-CULTUURBUS-ID`` properties in the tagged syntax of
``connectors.calendar.common``, honoured on non-recurring events only (on a series
they would name every occurrence).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import recurring_ical_events
from icalendar import Calendar, Component
from pydantic import ValidationError

from connectors.calendar.common import content_hash, contract_error, parse_datetime, parse_tagged
from connectors.sdk.errors import MappingError
from schemas.models import Identifier, Performance, PerformanceStatus, Venue, utcnow

__all__ = ["SOURCE_SYSTEM", "Failure", "Feed", "map_feed"]

SOURCE_SYSTEM = "ical"
_STATUS = {"CONFIRMED": PerformanceStatus.SCHEDULED, "TENTATIVE": PerformanceStatus.SCHEDULED,
           "CANCELLED": PerformanceStatus.CANCELLED}


@dataclass(frozen=True)
class Feed:
    """How to read one feed.

    Attributes:
        name: the namespace suffix of its keys (``ical:<name>``): host or a given name.
        account: names the feed in facts.
        timezone: zone of floating times when the calendar has no X-WR-TIMEZONE.
        venue_name: when set, every event is at this venue and LOCATION is the hall.
        venue_id, venue_city, venue_postcode, venue_country: the configured venue.
        capacity_default: capacity to report (iCalendar has none).
        horizon_days, lookback_days: the window occurrences are expanded in.

    """

    name: str
    account: str
    timezone: tzinfo
    venue_name: str | None = None
    venue_id: str | None = None
    venue_city: str | None = None
    venue_postcode: str | None = None
    venue_country: str = "NL"
    capacity_default: int | None = None
    horizon_days: int = 365
    lookback_days: int = 1


@dataclass(frozen=True)
class Failure:
    ref: str
    raw: bytes
    error: MappingError


def _text(comp: Component, name: str) -> str | None:
    value = comp.get(name)
    text = str(value).strip() if value is not None else ""
    return text or None


def _when(value: Any, field: str, tz: tzinfo) -> datetime:
    dt = getattr(value, "dt", value)
    if isinstance(dt, datetime | date):
        return parse_datetime(dt, field, tz)
    raise MappingError(f"{field} is missing or not a date-time", field=field)


def _venue(comp: Component, feed: Feed) -> tuple[Venue, str | None]:
    location = _text(comp, "LOCATION")
    if feed.venue_name:
        return Venue(id=feed.venue_id or f"{SOURCE_SYSTEM}:{feed.name}", name=feed.venue_name,
                     city=feed.venue_city, postcode=feed.venue_postcode,
                     country=feed.venue_country), location
    if location is None:
        raise MappingError("LOCATION is missing and the feed has no --venue-name",
                           field="LOCATION")
    return Venue(id=f"{SOURCE_SYSTEM}:{feed.name}:{location.lower()}", name=location,
                 country=feed.venue_country), None


def _occurrence(comp: Component, feed: Feed, tz: tzinfo, recurring: bool,
                fetched: datetime) -> Performance:
    uid = _text(comp, "UID")
    if uid is None:
        raise MappingError("VEVENT without UID", field="UID")
    start = _when(comp.get("DTSTART"), "DTSTART", tz)
    original = _when(comp.get("RECURRENCE-ID") or comp.get("DTSTART"), "RECURRENCE-ID", tz)
    end = _when(comp["DTEND"], "DTEND", tz) if comp.get("DTEND") is not None else None
    status_text = (_text(comp, "STATUS") or "CONFIRMED").upper()
    if status_text not in _STATUS:
        raise MappingError(f"STATUS {status_text!r} is not TENTATIVE, CONFIRMED or CANCELLED",
                           field="STATUS")
    title = _text(comp, "SUMMARY")
    if title is None:
        raise MappingError("SUMMARY is missing", field="SUMMARY")
    venue, hall = _venue(comp, feed)
    key = Identifier(namespace=f"{SOURCE_SYSTEM}:{feed.name}", value=f"{uid}@{original.isoformat()}")
    extra: list[Identifier] = []
    if not recurring:
        tagged = comp.get("X-CULTUURBUS-ID")
        for value in tagged if isinstance(tagged, list) else [tagged] if tagged else []:
            ident = parse_tagged(str(value))
            if ident is not None and ident not in extra:
                extra.append(ident)
    sequence_text = str(comp.get("SEQUENCE", 0)).strip() or "0"
    if not (sequence_text.isascii() and sequence_text.isdigit() and len(sequence_text) <= 9):
        raise MappingError(f"SEQUENCE {sequence_text[:20]!r} is not a non-negative integer",
                           field="SEQUENCE")
    sequence = int(sequence_text)
    last_modified = comp.get("LAST-MODIFIED")
    stamp = last_modified or comp.get("DTSTAMP")
    stamp_field = "LAST-MODIFIED" if last_modified else "DTSTAMP"
    try:
        perf = Performance(
            fact_id="-", event_time=_when(stamp, stamp_field, tz) if stamp else fetched,
            ingested_at=utcnow(), source_system=SOURCE_SYSTEM, source_account=feed.account,
            performance_key=key.key, identifiers=[key, *extra], title=title, venue=venue,
            hall=hall, start=start, end=end if end is not None and end > start else None,
            capacity=feed.capacity_default, status=_STATUS[status_text], url=_text(comp, "URL"))
    except ValidationError as exc:
        raise contract_error(exc, {
            "event_time": stamp_field if stamp else "Last-Modified", "start": "DTSTART",
            "end": "DTEND", "title": "SUMMARY", "hall": "LOCATION", "url": "URL",
            "identifiers": "UID", "performance_key": "UID"}, "VEVENT") from exc
    version = content_hash({
        "performance": perf.model_dump(mode="json", exclude={"fact_id", "ingested_at",
                                                             "event_time"}),
        "sequence": sequence,
        "last_modified": _when(last_modified, "LAST-MODIFIED", tz).isoformat()
        if last_modified else None,
    })[:20]
    return perf.model_copy(update={"fact_id": f"{SOURCE_SYSTEM}|{key.key}|{sequence}|{version}"})


def _zone(cal: Calendar, feed: Feed) -> tzinfo:
    name = cal.get("X-WR-TIMEZONE")
    if name:
        try:
            return ZoneInfo(str(name).strip())
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
            pass
    return feed.timezone


def _failure(raw: bytes, exc: MappingError) -> Failure:
    return Failure(f"dlq:{content_hash(raw)}", raw, exc)


def map_feed(body: bytes, feed: Feed, *, now: datetime,
             fetched: datetime) -> tuple[list[Performance], list[Failure]]:
    """Every occurrence in the window, and the events (or the feed) that failed."""
    try:
        cal = Calendar.from_ical(body)
    except (ValueError, IndexError, KeyError) as exc:
        return [], [_failure(body, MappingError(f"not an iCalendar feed: {str(exc)[:300]}",
                                                field="body"))]
    if not isinstance(cal, Calendar) or cal.name != "VCALENDAR":
        return [], [_failure(body, MappingError("not an iCalendar feed: no VCALENDAR",
                                                field="body"))]
    tz = _zone(cal, feed)
    window = (now - timedelta(days=feed.lookback_days), now + timedelta(days=feed.horizon_days))
    groups: dict[str, list[Component]] = {}
    for comp in cal.walk("VEVENT"):
        groups.setdefault(str(comp.get("UID", "")), []).append(comp)
    timezones = cal.walk("VTIMEZONE")
    performances: list[Performance] = []
    failures: list[Failure] = []
    for uid, comps in groups.items():
        raw = b"".join(c.to_ical() for c in comps)
        recurring = any(k in c for c in comps for k in ("RRULE", "RDATE", "RECURRENCE-ID"))
        single = Calendar()
        for key in ("VERSION", "PRODID"):
            if key in cal:
                single.add(key, cal[key])
        for sub in [*timezones, *comps]:
            single.add_component(sub)
        try:
            if not uid:
                raise MappingError("VEVENT without UID", field="UID")
            occurrences = recurring_ical_events.of(single).between(*window)
        except MappingError as exc:
            failures.append(_failure(raw, exc))
            continue
        except Exception as exc:  # noqa: BLE001 - the library's errors have no common root
            failures.append(_failure(raw, MappingError(
                f"event {uid} cannot be expanded: {type(exc).__name__}: {str(exc)[:300]}",
                field="RRULE" if any("RRULE" in c for c in comps) else "VEVENT")))
            continue
        failed: MappingError | None = None
        for occ in occurrences:
            try:
                performances.append(_occurrence(occ, feed, tz, recurring, fetched))
            except MappingError as exc:
                failed = failed or exc
            except ValueError as exc:  # a value icalendar could not read
                failed = failed or MappingError(
                    f"event {uid} does not make a valid Performance: {str(exc)[:300]}",
                    field="VEVENT")
        if failed is not None:  # one dead letter per event, not one per occurrence
            failures.append(_failure(raw, failed))
    return performances, failures

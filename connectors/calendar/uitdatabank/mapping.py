"""UiTdatabank event JSON-LD -> ``Performance`` facts: one per ``subEvent``.

Calendar types:
    single, multiple: every ``subEvent`` is one performance,
        ``Identifier.uit(event_uuid, subEvent.id)``, with ``Identifier.uit_at(event_uuid,
        start)`` next to it (the index is a position a calendar edit renumbers; a vendor
        that knows only the event id matches on the start). (A ``single`` event has exactly
        one subEvent in v3 JSON-LD; an older document without one gets index 0 from
        the event's own ``startDate``/``endDate``.)
    periodic, permanent: no discrete performances (opening hours over a period);
        nothing is published, the event is counted as skipped with that reason.
    workflowStatus DRAFT: not public yet; skipped ("draft").

Status, per subEvent (its own ``status`` wins over the event's, which UiT derives
from them):
    workflowStatus DELETED or REJECTED       -> CANCELLED (the event is withdrawn
                                                from publication: for a listener it is
                                                off, whatever its status said)
    status.type Unavailable                  -> CANCELLED
    status.type TemporarilyUnavailable       -> POSTPONED
    status.type Available + attendanceMode online -> MOVED_ONLINE
    status.type Available                    -> SCHEDULED
    A UiT document has no history, so "it changed to online" cannot be seen in one
    document; UiT replaces the location of an online event by its nil "online"
    place. In this sector an online performance is almost always a moved one, so
    every online event reads MOVED_ONLINE (deterministic: the same document always
    gives the same fact).

Fields: ``name`` (``mainLanguage``, then nl, then any) -> title; the first
``terms[]`` of domain ``eventtype`` -> genre (its label); ``location`` (``@id`` uuid,
``name``, ``address.<lang>.postalCode/addressLocality/addressCountry``) -> venue;
``subEvent[].bookingAvailability.capacity`` -> capacity; ``production.id`` ->
production_id and ``production.otherEvents`` (event ``@id`` URLs) -> production_other_events
(their uuids: other UiT events of the production, related but never merged; a production
that is not an object, an id that is not a uuid or an item that is not a UiT event URL is
a MappingError naming the field); ``bookingInfo.url`` -> url, and the vendor event it sells when it is a
known ticket shop's link (``connectors.sdk.shopurls``; only for an event with one date);
``bookingInfo.availabilityStarts`` -> on_sale_from; ``modified`` -> event_time. fact_id =
``uitdatabank|<performance key>|<modified>``.

Declared availability (``Performance.declared``, as of ``modified``), from the subEvent's
``bookingAvailability`` (else the event's, which UiT copies to every date or derives from
them; capacity and remaining only from the event's when it has one date):
    type Unavailable ("sold out/fully booked") or remainingCapacity 0 -> SOLD_OUT
    type Available                                                   -> AVAILABLE
    capacity, remainingCapacity                                      -> capacity, remaining
Another type, or a count that is not a non-negative integer, is a MappingError naming
the field (the date goes to the dead letters).

Partner identifiers: UiT has no field for them, so partners put tagged labels
(``labels`` or ``hiddenLabels``, syntax in ``connectors.calendar.common``) on the
event, with ``@<subEvent index>`` to say which performance they belong to::

    dip:NL-23-1234-5|3@0      vendor:ticketmatic:acme:10234@2

A label without ``@index`` applies only when the event has a single subEvent;
otherwise it is ambiguous and ignored (logged). ``sameAs`` is written by UiT itself
(uitinvlaanderen.be pages) and carries no partner ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from bus.log import get_logger
from connectors.calendar.common import (
    contract_error,
    country_code,
    json_bytes,
    parse_datetime,
    parse_tagged,
)
from connectors.sdk.declared import declared, seats
from connectors.sdk.errors import MappingError
from connectors.sdk.shopurls import shop_identifiers
from schemas.models import (
    DeclaredAvailability,
    DeclaredStatus,
    Identifier,
    Performance,
    PerformanceStatus,
    Venue,
    utcnow,
)

__all__ = ["SOURCE_SYSTEM", "Mapped", "event_uuid", "map_event", "member_bytes"]

log = get_logger(__name__)

SOURCE_SYSTEM = "uitdatabank"
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_STATUS = {
    "Available": PerformanceStatus.SCHEDULED,
    "TemporarilyUnavailable": PerformanceStatus.POSTPONED,
    "Unavailable": PerformanceStatus.CANCELLED,
}
_WITHDRAWN = frozenset(("DELETED", "REJECTED"))
_SKIPPED_CALENDARS = frozenset(("periodic", "permanent"))


@dataclass(frozen=True)
class Mapped:
    """What one UiT event became: performances, subEvents that failed, or a skip."""

    event_uuid: str
    modified: datetime
    performances: list[Performance] = field(default_factory=list)
    failures: list[tuple[str, MappingError]] = field(default_factory=list)
    skipped: str | None = None


def event_uuid(at_id: Any, field_name: str = "@id") -> str:
    """The uuid at the end of a UiT ``@id`` URL (``.../event(s)/{uuid}``)."""
    if isinstance(at_id, str):
        tail = at_id.rstrip("/").rsplit("/", 1)[-1]
        if _UUID.fullmatch(tail):
            return tail.lower()
    raise MappingError(f"{field_name} is not a UiT URL ending in a uuid: {at_id!r}",
                       field=field_name)


def _text(value: Any, lang: str) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        for key in (lang, "nl", *value.keys()):
            v = value.get(key)
            if isinstance(v, str) and v.strip():
                return v.strip()
    return None


def _venue(location: Any, lang: str) -> Venue:
    if not isinstance(location, dict):
        raise MappingError("location is missing (search with embed=true)", field="location")
    place = event_uuid(location.get("@id"), "location.@id")
    name = _text(location.get("name"), lang)
    if name is None:
        raise MappingError("location.name is missing", field="location.name")
    address = location.get("address")
    if isinstance(address, dict) and not any(k in address for k in ("postalCode",
                                                                    "addressLocality")):
        address = address.get(lang) or address.get("nl") or next(
            (v for v in address.values() if isinstance(v, dict)), None)
    address = address if isinstance(address, dict) else {}
    return Venue(id=place, name=name,
                 city=_text(address.get("addressLocality"), lang),
                 postcode=_text(address.get("postalCode"), lang),
                 country=country_code(address.get("addressCountry"), "BE",
                                      f"location.address.{lang}.addressCountry"))


def _genre(terms: Any) -> str | None:
    for term in terms if isinstance(terms, list) else []:
        if isinstance(term, dict) and term.get("domain") == "eventtype":
            label = term.get("label")
            if isinstance(label, str) and label.strip():
                return label.strip()
    return None


def _word(value: Any) -> str | None:
    """A JSON value that should be a symbol (``"APPROVED"``), or None (a list or object
    is no symbol, and cannot be looked up in a set)."""
    return value if isinstance(value, str) else None


def _status(event: dict[str, Any], sub: dict[str, Any], where: str) -> PerformanceStatus:
    if _word(event.get("workflowStatus")) in _WITHDRAWN:
        return PerformanceStatus.CANCELLED
    status = sub.get("status") or event.get("status") or {"type": "Available"}
    kind = status.get("type") if isinstance(status, dict) else None
    mapped = _STATUS.get(_word(kind) or "")
    if mapped is None:
        raise MappingError(f"{where}.status.type must be Available, TemporarilyUnavailable "
                           f"or Unavailable, not {str(kind)[:40]!r}", field=f"{where}.status.type")
    if mapped is PerformanceStatus.SCHEDULED and event.get("attendanceMode") == "online":
        return PerformanceStatus.MOVED_ONLINE
    return mapped


def _capacity(sub: dict[str, Any], event: dict[str, Any], single: bool, where: str) -> int | None:
    for holder, path in ((sub, where), (event if single else {}, "bookingAvailability")):
        ba = holder.get("bookingAvailability")
        if isinstance(ba, dict) and ba.get("capacity") is not None:
            cap = ba["capacity"]
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
                raise MappingError(f"{path}.bookingAvailability.capacity must be a "
                                   f"non-negative integer, not {cap!r}",
                                   field=f"{path}.bookingAvailability.capacity")
            return cap
    return None


_BOOKING = {"Available": DeclaredStatus.AVAILABLE, "Unavailable": DeclaredStatus.SOLD_OUT}


def _declared(sub: dict[str, Any], event: dict[str, Any], single: bool, where: str,
              modified: datetime) -> DeclaredAvailability | None:
    """What UiT declares about this date's bookings (see the module docstring)."""
    ba, path = sub.get("bookingAvailability"), f"{where}.bookingAvailability"
    if ba is None:
        ba, path = event.get("bookingAvailability"), "bookingAvailability"
    if ba is None:
        return None
    if not isinstance(ba, dict):
        raise MappingError(f"{path} must be an object with a type", field=path)
    kind = ba.get("type")
    status = _BOOKING.get(_word(kind) or "")
    if status is None and kind is not None:
        raise MappingError(f"{path}.type must be Available or Unavailable, not {str(kind)[:40]!r}",
                           field=f"{path}.type")
    counted = path != "bookingAvailability" or single
    capacity = seats(ba.get("capacity"), f"{path}.capacity") if counted else None
    remaining = seats(ba.get("remainingCapacity"), f"{path}.remainingCapacity") if counted else None
    if remaining == 0:
        status = DeclaredStatus.SOLD_OUT  # remainingCapacity overwrites the type (UiT)
    return declared(status, capacity=capacity, remaining=remaining, source_field=path,
                    as_of=modified)


def _label_identifiers(event: dict[str, Any], n_subs: int, uuid: str) -> dict[int, list[Identifier]]:
    out: dict[int, list[Identifier]] = {}
    lists = [event.get("labels"), event.get("hiddenLabels")]
    labels = [label for values in lists if isinstance(values, list) for label in values]
    for label in labels:
        if not isinstance(label, str):
            continue
        text, index = label, None
        head, sep, tail = label.rpartition("@")
        if sep and re.fullmatch(r"[0-9]{1,9}", tail):
            text, index = head, int(tail)
        ident = parse_tagged(text)
        if ident is None or ident.namespace == "uit":
            continue
        if index is None:
            if n_subs != 1:
                log.info("ignoring an identifier label without @<subEvent index> on an event "
                         "with several subEvents", extra={"event": uuid, "label": label})
                continue
            index = 0
        out.setdefault(index, []).append(ident)
    return out


def _shop_identifiers(event: dict[str, Any], n_subs: int, uuid: str) -> list[Identifier]:
    """The vendor event ``bookingInfo.url`` sells (``connectors.sdk.shopurls``). The link
    is the event's, not a date's: it identifies a performance only when the event has one
    date and the link names one vendor event (otherwise it would join different dates)."""
    booking = event.get("bookingInfo")
    url = booking.get("url") if isinstance(booking, dict) else None
    found = shop_identifiers(url)
    if len(found) == 1 and n_subs == 1:
        return found
    if found:
        log.info("not joining on a shop link that is not one performance's",
                 extra={"event": uuid, "subEvents": n_subs, "vendor_events": len(found)})
    return []


def _production(event: dict[str, Any], uuid: str) -> tuple[str | None, list[str]]:
    """``production.id`` (lower case) and the uuids of ``production.otherEvents`` (this
    event's own left out). UiT adds the object itself; it is absent for most events."""
    production = event.get("production")
    if production is None:
        return None, []
    if not isinstance(production, dict):
        raise MappingError("production must be an object with id, title and otherEvents",
                           field="production")
    prod_id = production.get("id")
    if prod_id is not None and not (isinstance(prod_id, str) and _UUID.fullmatch(prod_id.strip())):
        raise MappingError(f"production.id must be a uuid, not {str(prod_id)[:60]!r}",
                           field="production.id")
    others = production.get("otherEvents")
    if others is None:
        others = []
    if not isinstance(others, list):
        raise MappingError("production.otherEvents must be a list of UiT event URLs",
                           field="production.otherEvents")
    uuids = [event_uuid(other, "production.otherEvents") for other in others]
    return (prod_id.strip().lower() if prod_id else None,
            sorted(set(uuids) - {uuid}))


def _sub_events(event: dict[str, Any]) -> list[dict[str, Any]]:
    subs = event.get("subEvent")
    if isinstance(subs, list) and subs:
        if not all(isinstance(s, dict) for s in subs):
            raise MappingError("subEvent must be a list of objects", field="subEvent")
        return subs
    if event.get("calendarType") == "single" and event.get("startDate"):
        return [{"id": 0, "startDate": event.get("startDate"), "endDate": event.get("endDate")}]
    raise MappingError("a single/multiple event needs subEvent[] with startDate",
                       field="subEvent")


def map_event(event: Any, *, account: str) -> Mapped:
    """Map one search result member.

    Raises:
        MappingError: the event as a whole cannot be read (no @id, modified, name or
            location); subEvents that fail alone are in ``Mapped.failures``.

    """
    if not isinstance(event, dict):
        raise MappingError("search member is not a JSON object", field="member")
    uuid = event_uuid(event.get("@id"))
    modified = parse_datetime(event.get("modified"), "modified")
    calendar = event.get("calendarType")
    if event.get("workflowStatus") == "DRAFT":
        return Mapped(uuid, modified, skipped="draft")
    if _word(calendar) in _SKIPPED_CALENDARS:
        return Mapped(uuid, modified, skipped=str(calendar))
    if calendar not in ("single", "multiple", None):
        raise MappingError(f"calendarType must be single, multiple, periodic or permanent, "
                           f"not {calendar!r}", field="calendarType")
    main = event.get("mainLanguage")
    lang: str = main if isinstance(main, str) else "nl"
    title = _text(event.get("name"), lang)
    if title is None:
        raise MappingError("name is missing (no text in mainLanguage or any language)",
                           field="name")
    try:
        venue = _venue(event.get("location"), lang)
    except ValidationError as exc:
        raise contract_error(exc, {"name": "location.name", "id": "location.@id"},
                             "location") from exc
    genre = _genre(event.get("terms"))
    production_id, other_events = _production(event, uuid)
    subs = _sub_events(event)
    extra_ids = _label_identifiers(event, len(subs), uuid)
    shop_ids = _shop_identifiers(event, len(subs), uuid)
    ingested = utcnow()
    out = Mapped(uuid, modified)
    for pos, sub in enumerate(subs):
        idx = sub.get("id", pos)
        where = f"subEvent[{pos}]"
        try:
            if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0:
                raise MappingError(f"{where}.id must be a non-negative integer, not {idx!r}",
                                   field=f"{where}.id")
            booking = sub.get("bookingInfo") or event.get("bookingInfo") or {}
            booking = booking if isinstance(booking, dict) else {}
            key = Identifier.uit(uuid, idx)
            start = parse_datetime(sub.get("startDate"), f"{where}.startDate")
            starts = booking.get("availabilityStarts")
            out.performances.append(Performance(
                fact_id=f"{SOURCE_SYSTEM}|{key.key}|{modified.isoformat()}",
                event_time=modified, ingested_at=ingested, source_system=SOURCE_SYSTEM,
                source_account=account, performance_key=key.key,
                identifiers=[key, Identifier.uit_at(uuid, start), *extra_ids.get(idx, []),
                             *shop_ids],
                production_id=production_id, production_other_events=other_events,
                title=title, genre=genre, venue=venue,
                start=start,
                end=(parse_datetime(sub["endDate"], f"{where}.endDate")
                     if sub.get("endDate") else None),
                capacity=_capacity(sub, event, len(subs) == 1, where),
                status=_status(event, sub, where),
                on_sale_from=(parse_datetime(starts, "bookingInfo.availabilityStarts")
                              if starts else None),
                url=booking.get("url") if isinstance(booking.get("url"), str) else None,
                declared=_declared(sub, event, len(subs) == 1, where, modified),
            ))
        except MappingError as exc:
            out.failures.append((f"{uuid}#{idx}", exc))
        except ValidationError as exc:
            out.failures.append((f"{uuid}#{idx}", contract_error(exc, {
                "event_time": "modified", "start": f"{where}.startDate",
                "end": f"{where}.endDate", "capacity": f"{where}.bookingAvailability.capacity",
                "on_sale_from": "bookingInfo.availabilityStarts", "title": "name",
                "genre": "terms", "url": "bookingInfo.url", "production_id": "production.id",
                "identifiers": "labels", "fact_id": "@id", "performance_key": "@id"}, where)))
    return out


def member_bytes(member: Any) -> bytes:
    """The member as JSON bytes, for a dead letter."""
    return json_bytes(member)

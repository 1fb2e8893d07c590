"""schema.org Event JSON-LD -> ``Performance`` facts.

Which nodes are performances: an Event (any subtype) with ``subEvent`` is a series
and each of its (possibly nested) subEvents is one performance, inheriting name,
location, offers, url, type and status from the series where it has none; an Event
with ``superEvent`` inherits the same way; every other Event is one performance.
``subEvent``/``superEvent`` may be embedded or ``{"@id": ...}`` references into the
page's ``@graph``.

Status (``eventStatus``; a series' Cancelled/Postponed/MovedOnline wins over a
subEvent that says Scheduled or nothing):
    EventScheduled                   -> SCHEDULED
    EventRescheduled                 -> SCHEDULED (the new date is the startDate)
    EventPostponed                   -> POSTPONED
    EventCancelled                   -> CANCELLED
    EventMovedOnline                 -> MOVED_ONLINE
    absent                           -> SCHEDULED

Fields: ``name`` -> title; ``startDate``/``endDate`` (no offset: the feed's zone) ->
start/end; ``location`` Place (+ PostalAddress ``postalCode``, ``addressLocality``,
``addressCountry``) -> venue (a VirtualLocation only: venue "Online");
``maximumAttendeeCapacity`` -> capacity; ``offers.availability`` and
``remainingAttendeeCapacity`` -> declared (``schemaorg.stock``: the stock the page declares,
as of the event time);
``offers.url`` (else ``url``) -> url; the earliest ``offers.validFrom`` ->
on_sale_from; ``dateModified`` (else the page's Last-Modified, else the fetch time)
-> event_time; the Event subtype (or a ``genre`` text) -> genre.

Identifiers: ``identifier`` (text, list or PropertyValue with ``propertyID`` dip,
uit or vendor:<system>:<account>) and ``sameAs`` texts in the tagged syntax of
``connectors.calendar.common`` (a UiTdatabank id may also be a UiT URL or a bare event
uuid: then it is matched on the start, ``Identifier.uit_at``); the vendor event the
node's own ``offers.url`` sells (``connectors.sdk.shopurls``, only when they name one);
plus always ``schemaorg:<host>`` with the node's
``@id`` (made absolute) or ``<url>#<start UTC ISO>``. The performance key is the DIP
id if there is one, else the UiT id, else the schemaorg one. fact_id =
``schemaorg|<key>|<content hash>``: the same content always gives the same id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urljoin

from pydantic import ValidationError

from connectors.calendar.common import (
    content_hash,
    contract_error,
    country_code,
    host_of,
    json_bytes,
    parse_datetime,
    parse_tagged,
)
from connectors.calendar.schemaorg.extract import Block, event_types, flatten, short
from connectors.calendar.schemaorg.stock import declared_stock
from connectors.sdk.errors import MappingError
from connectors.sdk.identifiers import parse_uit
from connectors.sdk.shopurls import shop_identifiers
from schemas.models import Identifier, Performance, PerformanceStatus, Venue, utcnow

__all__ = ["SOURCE_SYSTEM", "Failure", "Page", "map_page"]

SOURCE_SYSTEM = "schemaorg"
_STATUS = {
    "EventScheduled": PerformanceStatus.SCHEDULED,
    "EventRescheduled": PerformanceStatus.SCHEDULED,
    "EventPostponed": PerformanceStatus.POSTPONED,
    "EventCancelled": PerformanceStatus.CANCELLED,
    "EventMovedOnline": PerformanceStatus.MOVED_ONLINE,
}
_GENRES = {
    "TheaterEvent": "theatre", "MusicEvent": "music", "DanceEvent": "dance",
    "ComedyEvent": "comedy", "ScreeningEvent": "film", "ChildrensEvent": "children",
    "Festival": "festival", "ExhibitionEvent": "exhibition", "LiteraryEvent": "literature",
    "VisualArtsEvent": "visual arts", "EducationEvent": "education",
}
_INHERITED = ("name", "location", "offers", "url", "@type", "dateModified", "genre",
              "eventStatus")
_MAX_DEPTH = 4
#: At most this many performances come out of one series (a page naming a show forty
#: times at four levels would otherwise be 2.5 million of them).
MAX_LEAVES = 2000
#: Contract field -> the JSON-LD property it comes from, for errors the contract raises.
_PROPERTY_OF = {"event_time": "dateModified", "start": "startDate", "end": "endDate",
                "title": "name", "genre": "genre", "venue": "location",
                "capacity": "maximumAttendeeCapacity", "on_sale_from": "offers.validFrom",
                "url": "url", "identifiers": "identifier", "performance_key": "identifier",
                "production_id": "identifier"}

@dataclass(frozen=True)
class Page:
    """Where the JSON-LD came from and how to read what it leaves open."""

    url: str
    account: str
    timezone: tzinfo
    country: str = "NL"
    modified: datetime | None = None  # HTTP Last-Modified, or the fetch time


@dataclass(frozen=True)
class Failure:
    """A node or block that did not map: its bytes, why, and a stable reference."""

    ref: str
    raw: bytes
    error: MappingError


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        return _text(value.get("@value") or value.get("name"))
    if isinstance(value, list):
        return next((t for t in map(_text, value) if t), None)
    return None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


class _Graph:
    def __init__(self, page: Page, nodes: list[dict[str, Any]]) -> None:
        self.page = page
        self.by_id = {self.abs_id(n["@id"]): n for n in nodes if isinstance(n.get("@id"), str)}

    def abs_id(self, value: str) -> str:
        try:
            return urljoin(self.page.url, value)
        except ValueError:  # not a URL (``http://[``): the text itself is the id
            return value

    def resolve(self, ref: Any) -> dict[str, Any] | None:
        if isinstance(ref, dict):
            if set(ref) <= {"@id", "@type"} and isinstance(ref.get("@id"), str):
                return self.by_id.get(self.abs_id(ref["@id"]), ref)
            return ref
        if isinstance(ref, str):
            return self.by_id.get(self.abs_id(ref))
        return None


def _merge(parent: dict[str, Any] | None, node: dict[str, Any]) -> dict[str, Any]:
    if parent is None:
        return node
    merged = {k: parent[k] for k in _INHERITED if k in parent}
    merged.update(node)
    parent_status = short(parent.get("eventStatus", "EventScheduled"))
    if parent_status not in ("EventScheduled", "EventRescheduled") and short(
            node.get("eventStatus", "EventScheduled")) in ("EventScheduled", "EventRescheduled"):
        merged["eventStatus"] = parent["eventStatus"]
    if not event_types(node) and "@type" in parent:
        merged["@type"] = parent["@type"]
    return merged


def _venue(location: Any, graph: _Graph) -> Venue:
    host = host_of(graph.page.url)
    if isinstance(location, str) and location.strip() and graph.resolve(location) is None:
        return Venue(id=f"{host}:{location.strip().lower()}", name=location.strip(),
                     country=graph.page.country)
    places = [graph.resolve(p) for p in _as_list(location)]
    place = next((p for p in places if p and short(p.get("@type", "Place")) != "VirtualLocation"),
                 None)
    if place is None:
        if any(p and short(p.get("@type", "")) == "VirtualLocation" for p in places):
            return Venue(id=f"{host}:online", name="Online", country=graph.page.country)
        raise MappingError("location (a Place with a name) is missing", field="location")
    name = _text(place.get("name"))
    if name is None:
        raise MappingError("location.name is missing", field="location.name")
    address = graph.resolve(place.get("address"))
    address = address if isinstance(address, dict) else {}
    pid = place.get("@id") or place.get("url")
    return Venue(id=graph.abs_id(pid) if isinstance(pid, str) else f"{host}:{name.lower()}",
                 name=name, city=_text(address.get("addressLocality")),
                 postcode=_text(address.get("postalCode")),
                 country=country_code(address.get("addressCountry"), graph.page.country,
                                      "location.address.addressCountry"))


def _capacity(value: Any) -> int | None:
    if value is None:
        return None
    try:
        cap = int(str(value).strip())
    except ValueError:
        cap = -1
    if cap < 0 or isinstance(value, bool):
        raise MappingError(f"maximumAttendeeCapacity must be a non-negative integer, not "
                           f"{value!r}", field="maximumAttendeeCapacity")
    return cap


def _uit_or_none(value: Any, start: datetime) -> Identifier | None:
    try:
        return parse_uit(value, start)
    except ValueError:
        return None


def _identifiers(node: dict[str, Any], start: datetime) -> list[Identifier]:
    out: list[Identifier] = []
    for item in [*_as_list(node.get("identifier")), *_as_list(node.get("sameAs"))]:
        ident = None
        if isinstance(item, str):
            ident = parse_tagged(item) or (_uit_or_none(item, start)
                                           if item.strip().startswith("http") else None)
        elif isinstance(item, dict):
            prop, value = str(item.get("propertyID", "")).strip(), item.get("value")
            if isinstance(value, str | int) and str(value).strip():
                kind = prop.lower()
                if kind == "dip":
                    ident = parse_tagged(f"dip:{value}")
                elif kind in ("uit", "uitdatabank"):
                    ident = _uit_or_none(str(value), start)
                elif kind.startswith("vendor:"):
                    ident = Identifier(namespace=prop, value=str(value).strip())
        if ident is not None and ident not in out:
            out.append(ident)
    return out


def _shop_identifiers(node: dict[str, Any], graph: _Graph) -> list[Identifier]:
    """The vendor event the node's own ``offers[].url`` sell, when they name exactly one
    (a series' offers, inherited by every date, would join different performances)."""
    offers = [o for o in map(graph.resolve, _as_list(node.get("offers"))) if o]
    found = {i.key: i for o in offers for i in shop_identifiers(o.get("url"))}
    return list(found.values()) if len(found) == 1 else []


def _event_url(merged: dict[str, Any], page: Page) -> str:
    url = merged.get("url")
    return urljoin(page.url, url) if isinstance(url, str) and url.strip() else page.url


def _performance(node: dict[str, Any], parent: dict[str, Any] | None, graph: _Graph) -> Performance:
    page = graph.page
    merged = _merge(parent, node)
    start = parse_datetime(merged.get("startDate"), "startDate", page.timezone)
    title = _text(merged.get("name"))
    if title is None:
        raise MappingError("name is missing", field="name")
    status_name = short(merged.get("eventStatus", "EventScheduled"))
    if status_name not in _STATUS:
        raise MappingError(f"eventStatus {merged.get('eventStatus')!r} is not a schema.org "
                           "EventStatusType", field="eventStatus")
    offers = [o for o in map(graph.resolve, _as_list(merged.get("offers"))) if o]
    url = next((o["url"] for o in offers if isinstance(o.get("url"), str)), None)
    url = url or (merged["url"] if isinstance(merged.get("url"), str) else None)
    sales = [parse_datetime(o["validFrom"], "offers.validFrom", page.timezone)
             for o in offers if o.get("validFrom")]
    own = node.get("@id")
    local = Identifier(namespace=f"{SOURCE_SYSTEM}:{host_of(page.url)}",
                       value=graph.abs_id(own) if isinstance(own, str)
                       else f"{_event_url(merged, page)}#{start.isoformat()}")
    tagged = _identifiers(node, start)
    primary = next((i for ns in ("dip", "uit") for i in tagged if i.namespace == ns), local)
    identifiers = [primary, *(i for i in [*tagged, local, *_shop_identifiers(node, graph)]
                              if i != primary)]
    production = next((i.value.rsplit("|", 1)[0] for i in identifiers if i.namespace == "dip"),
                      None)
    genre = _text(merged.get("genre")) or next(
        (_GENRES[t] for t in [*event_types(merged), *event_types(parent or {})]
         if t in _GENRES), None)
    modified = merged.get("dateModified")
    event_time = (parse_datetime(modified, "dateModified", page.timezone) if modified
                  else page.modified or utcnow())
    draft = Performance(
        fact_id="-", event_time=event_time, ingested_at=utcnow(), source_system=SOURCE_SYSTEM,
        source_account=page.account, performance_key=primary.key, identifiers=identifiers,
        production_id=production, title=title, genre=genre, venue=_venue(merged.get("location"),
                                                                         graph),
        start=start,
        end=parse_datetime(merged["endDate"], "endDate", page.timezone)
        if merged.get("endDate") else None,
        capacity=_capacity(merged.get("maximumAttendeeCapacity")),
        status=_STATUS[status_name], on_sale_from=min(sales) if sales else None, url=url,
        declared=declared_stock(merged, offers, event_time))
    digest = content_hash(draft.model_dump(mode="json", exclude={
        "fact_id": True, "ingested_at": True, "event_time": True, "declared": {"as_of"}}))
    return draft.model_copy(update={"fact_id": f"{SOURCE_SYSTEM}|{primary.key}|{digest}"})


def _leaves(node: dict[str, Any], parent: dict[str, Any] | None, graph: _Graph,
            budget: list[int], depth: int = 0,
            path: frozenset[int] = frozenset()) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """The performances under ``node``: a subEvent listed twice, or a node listing an
    ancestor (or itself), is not repeated; stops once ``budget[0]`` performances are
    found (``budget[0]`` then goes below zero)."""
    if budget[0] <= 0:
        budget[0] -= 1
        return []
    path = path | {id(node)}
    subs: dict[int, dict[str, Any]] = {}
    for s in map(graph.resolve, _as_list(node.get("subEvent"))):
        if s and id(s) not in path:
            subs.setdefault(id(s), s)
    if not subs or depth >= _MAX_DEPTH:
        budget[0] -= 1
        return [(node, parent)]
    merged = _merge(parent, node)
    return [leaf for s in subs.values()
            for leaf in _leaves(s, merged, graph, budget, depth + 1, path)]


def _failure(node: Any, exc: MappingError) -> Failure:
    raw = json_bytes(node)
    return Failure(f"dlq:{content_hash(raw)}", raw, exc)


def map_page(blocks: list[Block], page: Page) -> tuple[list[Performance], list[Failure]]:
    """Every performance on the page, and what could not be read."""
    failures = [Failure(f"dlq:{content_hash(b.raw)}", b.raw, MappingError(b.error, field="body"))
                for b in blocks if b.error]
    nodes = [n for b in blocks if not b.error for n in flatten(b.data)]
    graph = _Graph(page, nodes)
    events = [n for n in nodes if event_types(n)]
    children = {graph.abs_id(s["@id"]) for e in events for s in _as_list(e.get("subEvent"))
                if isinstance(s, dict) and isinstance(s.get("@id"), str)}
    children |= {graph.abs_id(s) for e in events for s in _as_list(e.get("subEvent"))
                 if isinstance(s, str)}
    performances: list[Performance] = []
    for event in events:
        if isinstance(event.get("@id"), str) and graph.abs_id(event["@id"]) in children:
            continue  # published through its series
        parent = graph.resolve(event.get("superEvent")) if event.get("superEvent") else None
        budget = [MAX_LEAVES]
        leaves = _leaves(event, parent, graph, budget)
        if budget[0] < 0:
            failures.append(_failure(event, MappingError(
                f"subEvent: the series has more than {MAX_LEAVES} performances; the first "
                f"{MAX_LEAVES} were read, split the series to publish the rest",
                field="subEvent")))
        for leaf, leaf_parent in leaves:
            try:
                performances.append(_performance(leaf, leaf_parent, graph))
            except MappingError as exc:
                failures.append(_failure(leaf, exc))
            except ValidationError as exc:
                failures.append(_failure(leaf, contract_error(exc, _PROPERTY_OF, "@id")))
    return performances, failures

"""A fake UiTdatabank Search API v3 (``GET /events``) and a builder of realistic
event JSON-LD: Flemish venues, subEvents with ``bookingAvailability`` capacity and
remainingCapacity, ``status``, ``production``, ``bookingInfo``.

The fake implements what a change reader uses: ``modifiedFrom``/``modifiedTo``
(inclusive), ``sort[modified]``, ``start``/``limit`` (with the API's 10000/2000
limits), ``embed``, the default ``workflowStatus`` filter (``*`` or a comma list
overrides it; ``disableDefaultFilters=true`` drops it) and ``X-Api-Key``/
``X-Client-Id`` authentication. Events can be added, modified (their ``modified``
moves forward, so they show up again) and malformed members planted.
"""

from __future__ import annotations

import copy
import uuid as uuidlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.fakes.calendars import FakeHttpServer, FakeRequest, FakeResponse

__all__ = ["EVENTTYPES", "VENUES", "FakeUitdatabank", "uit_event", "uit_uuid"]

IO = "https://io.uitdatabank.be"

#: (name, street, postcode, city) of public Flemish venues.
VENUES: list[tuple[str, str, str, str]] = [
    ("deSingel", "Desguinlei 25", "2018", "Antwerpen"),
    ("Handelsbeurs Concertzaal", "Kouter 29", "9000", "Gent"),
    ("Concertgebouw Brugge", "'t Zand 34", "8000", "Brugge"),
    ("30CC Schouwburg", "Rijschoolstraat 4", "3000", "Leuven"),
    ("Cultuurcentrum Hasselt", "Kunstlaan 5", "3500", "Hasselt"),
    ("KVS Bol", "Lakensestraat 146", "1000", "Brussel"),
    ("Schouwburg Kortrijk", "Schouwburgplein 14", "8500", "Kortrijk"),
    ("Cultuurcentrum Mechelen", "Minderbroedersgang 5", "2800", "Mechelen"),
]
#: (term id, label) of UiT eventtypes.
EVENTTYPES: list[tuple[str, str]] = [
    ("0.55.0.0.0", "Theatervoorstelling"),
    ("0.50.4.0.0", "Concert"),
    ("0.54.0.0.0", "Dansvoorstelling"),
    ("0.50.6.0.0", "Film"),
]


def uit_uuid(*parts: object) -> str:
    """A stable uuid for a fake entity (uuid5 of its parts)."""
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, "/".join(map(str, parts))))


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds")


def uit_event(n: int, *, starts: list[datetime], modified: datetime, title: str | None = None,
              capacities: list[int] | None = None, remaining: list[int] | None = None,
              sub_statuses: list[str] | None = None, status: str = "Available",
              calendar_type: str | None = None, workflow_status: str = "APPROVED",
              attendance_mode: str = "offline", labels: list[str] | None = None,
              production: bool = True, duration: timedelta = timedelta(hours=2),
              on_sale: datetime | None = None) -> dict[str, Any]:
    """Event ``n`` as the Search API embeds it (``embed=true``)."""
    event_id = uit_uuid("event", n)
    venue = VENUES[n % len(VENUES)]
    type_id, type_label = EVENTTYPES[n % len(EVENTTYPES)]
    name = title or f"{type_label} {n}"
    place_id = uit_uuid("place", venue[0])
    if attendance_mode == "online":
        location: dict[str, Any] = {"@id": f"{IO}/place/00000000-0000-0000-0000-000000000000",
                                    "@type": "Place", "name": {"nl": "Online"}}
    else:
        location = {
            "@id": f"{IO}/place/{place_id}", "@type": "Place", "mainLanguage": "nl",
            "name": {"nl": venue[0]},
            "address": {"nl": {"addressCountry": "BE", "addressLocality": venue[3],
                               "postalCode": venue[2], "streetAddress": venue[1]}},
            "terms": [{"id": "8.6.0.0.0", "label": "Theater", "domain": "eventtype"}],
            "workflowStatus": "APPROVED",
        }
    subs = []
    for i, start in enumerate(starts):
        cap = capacities[i] if capacities else 300 + 50 * (n % 5)
        left = remaining[i] if remaining else max(0, cap - 17 * (i + 1))
        sub_status = sub_statuses[i] if sub_statuses else status
        subs.append({
            "@type": "Event", "id": i, "startDate": _iso(start), "endDate": _iso(start + duration),
            "status": {"type": sub_status},
            "bookingAvailability": {"type": "Available" if left > 0 else "Unavailable",
                                    "capacity": cap, "remainingCapacity": left},
        })
    event: dict[str, Any] = {
        "@id": f"{IO}/event/{event_id}", "@context": "/contexts/event", "@type": "Event",
        "mainLanguage": "nl", "name": {"nl": name, "fr": f"{name} (FR)"},
        "description": {"nl": "Een voorstelling over ... (met Nederlandse boventitels)."},
        "location": location,
        "organizer": {"@id": f"{IO}/organizers/{uit_uuid('org', venue[0])}",
                      "name": {"nl": venue[0]}},
        "calendarType": calendar_type or ("single" if len(starts) == 1 else "multiple"),
        "startDate": _iso(min(starts)), "endDate": _iso(max(starts) + duration),
        "subEvent": subs,
        "status": {"type": status},
        "bookingAvailability": {"type": "Available"},
        "attendanceMode": attendance_mode,
        "terms": [{"id": type_id, "label": type_label, "domain": "eventtype"},
                  {"id": "1.3.1.0.0", "label": "Tekst- en muziektheater", "domain": "theme"}],
        "priceInfo": [{"category": "base", "name": {"nl": "Basistarief"}, "price": 24.0,
                       "priceCurrency": "EUR"},
                      {"category": "tariff", "name": {"nl": "-26 jaar"}, "price": 12.0,
                       "priceCurrency": "EUR"}],
        "bookingInfo": {"url": f"https://tickets.example.be/{event_id}",
                        "urlLabel": {"nl": "Koop tickets"},
                        "phone": "+32 3 248 28 28", "email": "tickets@example.be",
                        "availabilityStarts": _iso(on_sale or modified)},
        "workflowStatus": workflow_status,
        "audience": {"audienceType": "everyone"}, "typicalAgeRange": "12-",
        "languages": ["nl", "fr"], "completedLanguages": ["nl"],
        "labels": labels or ["UiTPAS Gent"],
        "sameAs": [f"http://www.uitinvlaanderen.be/agenda/e/voorstelling-{n}/{event_id}"],
        "created": _iso(modified - timedelta(days=30)), "modified": _iso(modified),
        "availableFrom": _iso(modified - timedelta(days=30)),
        "availableTo": _iso(max(starts) + duration),
    }
    if production:
        event["production"] = {"id": uit_uuid("production", name), "title": name,
                               "otherEvents": []}
    if subs and calendar_type in ("periodic", "permanent"):
        del event["subEvent"]
    return event


def _problem(status: int, detail: str) -> FakeResponse:
    kind = {400: "body/invalid-data", 401: "auth/unauthorized", 404: "url/not-found"}
    return FakeResponse.json({"type": f"https://api.publiq.be/probs/{kind.get(status, 'x')}",
                              "title": {400: "Bad Request", 401: "Unauthorized"}.get(
                                  status, "Not Found"),
                              "status": status, "detail": detail}, status,
                             "application/problem+json")


class FakeUitdatabank(FakeHttpServer):
    """Events live in memory; ``tick()`` hands out ever later ``modified`` instants
    (starting a day ago, one second apart, so they stay in the past).

    Args:
        api_key: when set, requests need it (``X-Api-Key``/``apiKey``) or ``client_id``.
        client_id: accepted as ``X-Client-Id``/``clientId``.

    """

    def __init__(self, api_key: str | None = None, client_id: str | None = None) -> None:
        super().__init__()
        self.api_key, self.client_id = api_key, client_id
        self._members: dict[str, dict[str, Any]] = {}
        self._clock = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)

    def tick(self, seconds: int = 1) -> datetime:
        with self._lock:
            self._clock += timedelta(seconds=seconds)
            return self._clock

    def add(self, event: dict[str, Any]) -> str:
        """Store an event (or any member, even a malformed one); returns its key."""
        key = str(event.get("@id") or f"raw-{len(self._members)}")
        with self._lock:
            self._members[key] = copy.deepcopy(event)
        return key

    def get(self, key: str) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._members[key])

    def modify(self, key: str, change: Callable[[dict[str, Any]], None]) -> datetime:
        """Apply ``change`` to the stored event and move its ``modified`` forward."""
        stamp = self.tick()
        with self._lock:
            event = self._members[key]
            change(event)
            event["modified"] = _iso(stamp)
        return stamp

    def _authorised(self, req: FakeRequest) -> bool:
        if not (self.api_key or self.client_id):
            return True
        given = {req.headers.get("x-api-key"), req.arg("apiKey"),
                 req.headers.get("x-client-id"), req.arg("clientId")}
        return bool(({self.api_key, self.client_id} - {None}) & given)

    def handle(self, req: FakeRequest) -> FakeResponse:
        if req.path.rstrip("/") != "/events":
            return _problem(404, f"no route {req.path}")
        if not self._authorised(req):
            return _problem(401, "missing or invalid X-Client-Id / X-Api-Key")
        try:
            start = int(req.arg("start", "0") or 0)
            limit = int(req.arg("limit", "30") or 30)
            lo_text, hi_text = req.arg("modifiedFrom"), req.arg("modifiedTo")
            lo = datetime.fromisoformat(lo_text) if lo_text else None
            hi = datetime.fromisoformat(hi_text) if hi_text else None
        except ValueError as exc:
            return _problem(400, f"invalid query parameter: {exc}")
        if not 0 <= start <= 10000:
            return _problem(404, 'The "start" parameter should be between 0 and 10000')
        if not 0 <= limit <= 2000:
            return _problem(404, 'The "limit" parameter should be between 0 and 2000')
        wanted: set[str] | None = {"APPROVED", "READY_FOR_VALIDATION"}
        ws = req.arg("workflowStatus")
        if req.arg("disableDefaultFilters") == "true" or ws == "*":
            wanted = None
        elif ws:
            wanted = set(ws.split(","))
        def modified(m: dict[str, Any]) -> datetime:
            try:
                return datetime.fromisoformat(str(m.get("modified")))
            except ValueError:
                return datetime.min.replace(tzinfo=UTC)

        with self._lock:  # select and serialise under the lock: no copies needed
            hits = [m for m in self._members.values()
                    if (wanted is None or m.get("workflowStatus") in wanted)
                    and (lo is None or modified(m) >= lo) and (hi is None or modified(m) <= hi)]
            order = req.arg("sort[modified]")
            if order in ("asc", "desc"):
                hits.sort(key=lambda m: (modified(m), str(m.get("@id"))),
                          reverse=order == "desc")
            page = hits[start:start + limit]
            if req.arg("embed") != "true":
                page = [{"@id": m.get("@id"), "@type": m.get("@type", "Event")} for m in page]
            return FakeResponse.json({"@context": "http://www.w3.org/ns/hydra/context.jsonld",
                                      "@type": "PagedCollection", "itemsPerPage": limit,
                                      "totalItems": len(hits), "member": page},
                                     content_type="application/ld+json")

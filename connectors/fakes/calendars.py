"""Fake calendar publishers for tests and demos: a loopback HTTP server base, a site
serving schema.org pages and iCalendar feeds (with ETag/Last-Modified and 304s), and
builders for realistic theatre pages and feeds.

Every fake binds to 127.0.0.1 on a free port and can be told to fail the next
requests (``fail_next``) to exercise retries.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from bus.topics import topic_name
from connectors.fakes.http import FakeApiServer

__all__ = ["FakeCalendarSite", "FakeHttpServer", "FakeRequest", "FakeResponse", "ReadBack",
           "ical_feed", "read_back", "schemaorg_page", "theater_event", "vevent"]


@dataclass(frozen=True)
class FakeRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default


@dataclass
class FakeResponse:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, obj: Any, status: int = 200, content_type: str = "application/json") -> FakeResponse:
        return cls(status, json.dumps(obj, ensure_ascii=False).encode(),
                   {"Content-Type": content_type})


class FakeHttpServer:
    """Lifecycle: ``start()`` serves on a thread; ``close()`` stops. Subclasses answer
    in ``handle``; ``fail_next`` makes the next requests answer an error first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: list[int] = []
        self.requests: list[FakeRequest] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                req = FakeRequest("GET", parts.path, parse_qs(parts.query, keep_blank_values=True),
                                  {k.lower(): v for k, v in self.headers.items()})
                resp = owner._dispatch(req)
                self.send_response(resp.status)
                for k, v in resp.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(resp.body)))
                self.end_headers()
                self.wfile.write(resp.body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._server = FakeApiServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                                        name=type(self).__name__)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def fail_next(self, times: int = 1, status: int = 503) -> None:
        """The next ``times`` requests answer ``status`` (503: a vendor outage)."""
        with self._lock:
            self._failures.extend([status] * times)

    def _dispatch(self, req: FakeRequest) -> FakeResponse:
        with self._lock:
            self.requests.append(req)
            failure = self._failures.pop(0) if self._failures else None
        if failure is not None:
            return FakeResponse.json({"title": "Service Unavailable", "status": failure},
                                     status=failure, content_type="application/problem+json")
        try:
            return self.handle(req)
        except Exception as exc:  # noqa: BLE001 - a fake answers 500 like a real server
            return FakeResponse.json({"title": "Internal error", "detail": str(exc)}, 500)

    def handle(self, req: FakeRequest) -> FakeResponse:
        raise NotImplementedError


class FakeCalendarSite(FakeHttpServer):
    """Serves documents by path (``put``); answers 304 to a matching
    ``If-None-Match``/``If-Modified-Since`` like a real web server."""

    def __init__(self) -> None:
        super().__init__()
        self._docs: dict[str, tuple[bytes, str, datetime]] = {}

    def put(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8",
            last_modified: datetime | None = None) -> str:
        """Publish (or replace) a document; returns its URL."""
        data = body.encode() if isinstance(body, str) else body
        stamp = (last_modified or datetime.now(UTC)).replace(microsecond=0)
        with self._lock:
            self._docs[path] = (data, content_type, stamp)
        return self.url + path

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def handle(self, req: FakeRequest) -> FakeResponse:
        with self._lock:
            doc = self._docs.get(req.path)
        if doc is None:
            return FakeResponse(404, b"not found", {"Content-Type": "text/plain"})
        data, ctype, stamp = doc
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        headers = {"ETag": etag, "Last-Modified": format_datetime(stamp, usegmt=True)}
        if req.headers.get("if-none-match") == etag:
            return FakeResponse(304, b"", headers)
        return FakeResponse(200, data, {**headers, "Content-Type": ctype})


# -- reading back what a connector published ----------------------------------------
@dataclass(frozen=True)
class ReadBack:
    """One record read back from a topic: key, value (a dict when decoded), headers."""

    key: str | None
    value: Any
    headers: dict[str, str]


def read_back(settings: Any, topic: str, decode: Any = None, timeout_s: float = 30.0) -> list[ReadBack]:
    """Every record of ``topic`` (unprefixed catalog name) up to its current end.

    Args:
        settings: ``bus.settings.Settings`` (Kafka and topic prefix).
        topic: e.g. ``calendar.performances`` or ``calendar.performances.dlq``.
        decode: ``(bytes) -> value`` (e.g. an ``AvroDeserializer``); raw bytes if None.
        timeout_s: bound on the whole read.

    """
    import time
    import uuid

    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    from bus.kafka import make_consumer

    name = topic_name(topic, settings.topic_prefix)
    consumer = make_consumer(settings.kafka, f"read-back-{uuid.uuid4().hex[:8]}")
    out: list[ReadBack] = []
    try:
        meta = consumer.list_topics(name, timeout=10)
        parts = sorted(meta.topics[name].partitions)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)[1]
                for p in parts}
        consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in parts])
        todo = {p for p, end in ends.items() if end > 0}
        deadline = time.monotonic() + timeout_s
        while todo and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                raise RuntimeError(f"reading {name}: {msg.error()}")
            raw_key = msg.key()
            out.append(ReadBack(
                raw_key.decode() if isinstance(raw_key, bytes) else raw_key,
                decode(msg.value()) if decode else msg.value(),
                {str(h[0]): (h[1].decode() if isinstance(h[1], bytes) else str(h[1]))
                 for h in (msg.headers() or [])}))
            if (msg.offset() or 0) >= ends[msg.partition()] - 1:
                todo.discard(msg.partition())
        if todo:
            raise TimeoutError(f"did not reach the end of {name} in {timeout_s}s")
    finally:
        consumer.close()
    return out


# -- schema.org ---------------------------------------------------------------------
def theater_event(name: str, start: str, *, end: str | None = None, type_: str = "TheaterEvent",
                  event_id: str | None = None, status: str = "EventScheduled",
                  venue: str = "Stadsschouwburg Utrecht", street: str = "Lucasbolwerk 24",
                  postcode: str = "3512 EH", city: str = "Utrecht", country: str = "NL",
                  capacity: int | None = 926, remaining: int | None = None,
                  offer_url: str | None = "https://tickets.example.nl/voorstelling/1",
                  availability: str = "InStock", valid_from: str | None = None,
                  identifier: Any = None, sub_events: list[dict[str, Any]] | None = None,
                  modified: str | None = None) -> dict[str, Any]:
    """A schema.org Event node as Dutch and Flemish theatre sites publish them."""
    node: dict[str, Any] = {
        "@type": type_, "name": name, "startDate": start,
        "eventStatus": f"https://schema.org/{status}",
        "eventAttendanceMode": "https://schema.org/OfflineEventAttendanceMode",
        "location": {"@type": "Place", "name": venue, "address": {
            "@type": "PostalAddress", "streetAddress": street, "postalCode": postcode,
            "addressLocality": city, "addressCountry": country}},
        "organizer": {"@type": "Organization", "name": venue},
    }
    if event_id:
        node["@id"] = event_id
    if end:
        node["endDate"] = end
    if capacity is not None:
        node["maximumAttendeeCapacity"] = capacity
    if remaining is not None:
        node["remainingAttendeeCapacity"] = remaining
    if offer_url:
        offer: dict[str, Any] = {"@type": "Offer", "url": offer_url, "price": "27.50",
                                 "priceCurrency": "EUR",
                                 "availability": f"https://schema.org/{availability}"}
        if valid_from:
            offer["validFrom"] = valid_from
        node["offers"] = [offer]
    if identifier is not None:
        node["identifier"] = identifier
    if sub_events is not None:
        node["subEvent"] = sub_events
    if modified:
        node["dateModified"] = modified
    return node


def schemaorg_page(events: list[dict[str, Any]], *, title: str = "Agenda",
                   graph: bool = True, extra_blocks: list[str] | None = None) -> str:
    """An HTML agenda page with the events as JSON-LD (in an ``@graph`` with the site's
    WebPage and Organization, or one block per event), plus the usual noise."""
    blocks: list[str] = []
    if graph:
        blocks.append(json.dumps({"@context": "https://schema.org", "@graph": [
            {"@type": "WebPage", "@id": "#webpage", "name": title},
            {"@type": "Organization", "@id": "#org", "name": "Stadsschouwburg"},
            *events]}, ensure_ascii=False))
    else:
        blocks.extend(json.dumps({"@context": "https://schema.org", **e}, ensure_ascii=False)
                      for e in events)
    blocks.append(json.dumps({"@context": "https://schema.org", "@type": "BreadcrumbList",
                              "itemListElement": []}))
    blocks.extend(extra_blocks or [])
    scripts = "\n".join(f'<script type="application/ld+json">{b}</script>' for b in blocks)
    return (f"<!doctype html><html lang=\"nl\"><head><meta charset=\"utf-8\"><title>{title}"
            f"</title>{scripts}<script>window.dataLayer=[];</script></head><body><h1>{title}"
            "</h1><p>Koop je tickets online &amp; aan de kassa.</p></body></html>")


# -- iCalendar ----------------------------------------------------------------------
_VTIMEZONE = """BEGIN:VTIMEZONE
TZID:Europe/Amsterdam
BEGIN:STANDARD
DTSTART:19701025T030000
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZNAME:CET
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:19700329T020000
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZNAME:CEST
END:DAYLIGHT
END:VTIMEZONE"""


def vevent(uid: str, start: str, *, summary: str = "Voorstelling", end: str | None = None,
           tzid: str | None = "Europe/Amsterdam", rrule: str | None = None,
           recurrence_id: str | None = None, status: str | None = "CONFIRMED",
           sequence: int | None = 0, location: str | None = "Grote Zaal",
           url: str | None = None, last_modified: str | None = "20250110T090000Z",
           extra: list[str] | None = None) -> str:
    """One VEVENT; times are local ``YYYYMMDDTHHMMSS`` in ``tzid`` (None: floating,
    or UTC when they end in Z)."""
    tz = f";TZID={tzid}" if tzid and not start.endswith("Z") else ""
    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20250115T120000Z", f"DTSTART{tz}:{start}"]
    if end:
        lines.append(f"DTEND{tz}:{end}")
    if recurrence_id:
        lines.append(f"RECURRENCE-ID{tz}:{recurrence_id}")
    if rrule:
        lines.append(f"RRULE:{rrule}")
    lines.append(f"SUMMARY:{summary}")
    for name, value in (("STATUS", status), ("SEQUENCE", sequence), ("LOCATION", location),
                        ("URL", url), ("LAST-MODIFIED", last_modified)):
        if value is not None:
            lines.append(f"{name}:{value}")
    lines.extend(extra or [])
    lines.append("END:VEVENT")
    return "\r\n".join(lines)


def ical_feed(events: list[str], *, name: str = "Agenda", timezone: bool = True,
              x_wr_timezone: str | None = None) -> str:
    """A VCALENDAR around the VEVENTs (with the Europe/Amsterdam VTIMEZONE)."""
    head = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//cultuurbus//fake agenda//NL",
            "CALSCALE:GREGORIAN", "METHOD:PUBLISH", f"X-WR-CALNAME:{name}"]
    if x_wr_timezone:
        head.append(f"X-WR-TIMEZONE:{x_wr_timezone}")
    body = [*head, *([_VTIMEZONE.replace("\n", "\r\n")] if timezone else []), *events,
            "END:VCALENDAR"]
    return "\r\n".join(body) + "\r\n"

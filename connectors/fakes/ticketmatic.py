"""A fake Ticketmatic eventstream on loopback, and builders of Ticketmatic-shaped items.

Serves ``GET /api/1/{account}/eventstream?id=<cursor>`` as Ticketmatic documents it:
``{"moreresults": bool, "nextid": str, "results": [{"id", "ts", "type", "data"}]}``.
Item ids look like Ticketmatic's (``"1526985054069-0"``: milliseconds and a sequence);
``id`` is inclusive (the minimum id to read) and ``nextid`` is the id after the last
item returned. Envelope timestamps are ISO-8601 with ``+0000``; timestamps inside
``data`` are Ticketmatic's ``"YYYY-MM-DD HH:MM:SS"`` in UTC.

The ``data`` shapes use Ticketmatic's API field names (Order, OrderTicket, Event,
EventContingentAvailability, EventTicket access control fields, Contact with custom
fields ``c_<key>``). The item *types* for orders, events and scans
(``order:confirmed``, ``order:cancelled``, ``order:refunded``, ``event:updated``,
``accesscontrol:scan``) are inferred: Ticketmatic's public docs show only
``webshop:*`` user-tracking types; both kinds are served here.

Failure injection: ``fail_next(k, status)``, ``malformed_next(k)`` and
``stall_next(k, seconds)`` make the next requests fail as a flaky vendor would.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.fakes.http import ServedFake

__all__ = [
    "CUSTOMERS",
    "Customer",
    "FakeTicketmatic",
    "event_data",
    "event_item",
    "generate_feed",
    "order_item",
    "order_ticket",
    "scan_item",
    "stream_id",
    "tm_ts",
    "webshop_item",
]

_BASE_MS = 1_735_725_600_000  # 2025-01-01T10:00:00Z


def stream_id(n: int, base_ms: int = _BASE_MS) -> str:
    """The n-th item id of a feed, Ticketmatic style (``"<ms>-<seq>"``)."""
    return f"{base_ms + n * 1000}-0"


def _parse_id(value: str) -> tuple[int, int]:
    ms, _, seq = value.partition("-")
    return int(ms or 0), int(seq or 0)


def tm_ts(value: datetime) -> str:
    """A Ticketmatic object timestamp: ``YYYY-MM-DD HH:MM:SS`` in UTC."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _envelope_ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass(frozen=True)
class Customer:
    """A Ticketmatic contact with the personal data the vendor holds."""

    id: int
    firstname: str
    lastname: str
    email: str
    birthdate: str
    zip: str
    countrycode: str

    def contact(self) -> dict[str, Any]:
        """As Ticketmatic's Contact type spells it."""
        return {"id": self.id, "firstname": self.firstname, "lastname": self.lastname,
                "email": self.email, "birthdate": self.birthdate,
                "addresses": [{"street1": "Kerkstraat", "street2": "12", "zip": self.zip,
                               "city": "Utrecht", "countrycode": self.countrycode}]}

    def personal_values(self) -> list[str]:
        """Raw values that must never reach Kafka (a 4-digit postcode area may: a Belgian
        postcode is its own area, so only full Dutch postcodes are listed)."""
        values = [self.firstname, self.lastname, self.email, self.birthdate,
                  f"{self.firstname} {self.lastname}"]
        return values + ([self.zip] if not self.zip.isdigit() else [])


CUSTOMERS = (
    Customer(60001, "Marieke", "Dijkstra", "marieke.dijkstra@example.nl", "1979-03-14",
             "3512 JE", "NL"),
    Customer(60002, "Pieter-Jan", "Claes", "pj.claes@example.be", "1992-12-01", "9000", "BE"),
    Customer(60003, "Fatima", "El Amrani", "f.elamrani@example.com", "2001-07-23", "1053 TX",
             "NL"),
)


def event_data(eventid: int, name: str, start: datetime, *, dip_id: str | None = None,
               dip_field: str = "c_dipid", custom_fields: dict[str, Any] | None = None,
               contingents: Sequence[tuple[int, int]] = ((89, 840),),
               currentstatus: int = 19002, locationid: int = 125,
               locationname: str | None = "Grote Zaal", productionid: int | None = None,
               duration: timedelta = timedelta(hours=2),
               free: Sequence[int] | None = None) -> dict[str, Any]:
    """A Ticketmatic Event with ``availability[]`` per contingent (tickettypeid, total);
    ``free`` per contingent declares seats left (default: all free, none sold).

    ``custom_fields`` are the account's event custom fields by key (``{"uitdatabankid":
    "..."}``); Ticketmatic adds each to the Event as a top-level ``c_<key>``."""
    data: dict[str, Any] = {
        "id": eventid, "name": name, "productionid": productionid, "locationid": locationid,
        "startts": tm_ts(start), "endts": tm_ts(start + duration),
        "salestartts": tm_ts(start - timedelta(days=60)), "saleendts": tm_ts(start),
        "currentstatus": currentstatus,
        "availability": [{"tickettypeid": tt, "total": total, "free": left, "reserved": 0,
                          "sold_paid": total - left, "sold_unpaid": 0, "complimentary": 0,
                          "locked_hard": 0, "locked_soft": 0,
                          "lastupdatets": tm_ts(start - timedelta(days=1))}
                         for (tt, total), left in zip(contingents, free or [t for _, t in contingents],
                                                       strict=True)],
    }
    if locationname is not None:
        data["locationname"] = locationname
    if dip_id is not None:
        data[dip_field] = dip_id
    for key, value in (custom_fields or {}).items():
        data[f"c_{key}"] = value
    return data


def _item(item_id: str, ts: datetime, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": item_id, "ts": _envelope_ts(ts), "type": type_, "data": data}


def event_item(item_id: str, ts: datetime, event: dict[str, Any],
               type_: str = "event:updated") -> dict[str, Any]:
    """An eventstream item carrying an Event."""
    return _item(item_id, ts, type_, event)


def order_item(item_id: str, ts: datetime, orderid: int, tickets: Iterable[dict[str, Any]], *,
               type_: str = "order:confirmed", customer: Customer | None = None,
               saleschannelid: int = 1) -> dict[str, Any]:
    """An eventstream item carrying an Order; ``tickets`` are OrderTicket dicts
    (``id, eventid, tickettypeid, pricetypeid, price, servicecharge, seatname, barcode``).
    For ``order:cancelled``/``order:refunded`` they are the tickets concerned."""
    tickets = list(tickets)
    total = sum(float(t.get("price", 0)) + float(t.get("servicecharge", 0)) for t in tickets)
    data: dict[str, Any] = {
        "orderid": orderid, "status": 21002, "saleschannelid": saleschannelid,
        "customerid": customer.id if customer else None, "nbroftickets": len(tickets),
        "totalamount": f"{total:.6f}", "createdts": tm_ts(ts), "lastupdatets": tm_ts(ts),
        "tickets": tickets,
    }
    if customer is not None:
        data["customer"] = customer.contact()
    return _item(item_id, ts, type_, data)


def order_ticket(ticketid: int, eventid: int, *, pricetypeid: int = 1, price: float = 25.0,
                 tickettypeid: int = 89, ticketname: str | None = None) -> dict[str, Any]:
    """An OrderTicket."""
    t: dict[str, Any] = {"id": ticketid, "eventid": eventid, "tickettypeid": tickettypeid,
                         "pricetypeid": pricetypeid, "price": f"{price:.6f}",
                         "servicecharge": "1.500000", "seatname": f"s00100{ticketid % 100:03d}",
                         "barcode": f"55071672{ticketid:011d}"}
    if ticketname is not None:
        t["ticketname"] = ticketname
    return t


def scan_item(item_id: str, ts: datetime, ticketid: int, eventid: int, orderid: int, *,
              status: int = 1, entered: datetime | None = None) -> dict[str, Any]:
    """An access-control scan: an EventTicket with its access control fields."""
    data = {"id": ticketid, "eventid": eventid, "orderid": orderid, "tickettypeid": 89,
            "accesscontrolstatus": status,
            "accesscontrollastenteredts": tm_ts(entered or ts) if status == 1 else None,
            "accesscontrollastenteredscandeviceid": 238}
    return _item(item_id, ts, "accesscontrol:scan", data)


def webshop_item(item_id: str, ts: datetime, orderid: int) -> dict[str, Any]:
    """A user-tracking item as Ticketmatic documents them (a basket action, not a sale)."""
    return _item(item_id, ts, "webshop:add_tickets", {"orderid": orderid, "ref": "GA1.2.3"})


def generate_feed(n: int, *, events: int = 5, first_event: int = 10_000,
                  start_ticket: int = 1_000_000) -> list[dict[str, Any]]:
    """``n`` items: ``events`` event items, then one-ticket orders (every 10th with a
    customer, every 7th a scan of the previous ticket). For throughput tests."""
    t0 = datetime(2025, 1, 1, 10, tzinfo=UTC)
    show = datetime(2025, 3, 1, 19, 30, tzinfo=UTC)
    items = [event_item(stream_id(i), t0, event_data(first_event + i, f"Voorstelling {i}",
                                                     show + timedelta(days=i),
                                                     dip_id=f"NL-25-{1000 + i}-1|1"))
             for i in range(min(events, n))]
    k = len(items)
    while k < n:
        ticket = start_ticket + k
        event = first_event + k % max(events, 1)
        ts = t0 + timedelta(seconds=k)
        if k % 7 == 6:  # the previous ticket enters
            items.append(scan_item(stream_id(k), ts, ticket - 1,
                                   first_event + (k - 1) % max(events, 1), 500_000 + k - 1))
        else:
            customer = CUSTOMERS[k % len(CUSTOMERS)] if k % 10 == 0 else None
            items.append(order_item(stream_id(k), ts, 500_000 + k,
                                    [order_ticket(ticket, event, pricetypeid=1 + k % 3)],
                                    customer=customer))
        k += 1
    return items


class FakeTicketmatic(ServedFake):
    """Lifecycle: ``start()`` binds 127.0.0.1 on a free port and serves in a thread;
    ``stop()`` shuts it down. Also a context manager.

    Args:
        items: the feed (any order; served sorted by id).
        page_size: items per page.
        account: the account name in the path; other accounts answer 404.
        access_key: with ``secret_key``, require HTTP basic auth (Ticketmatic's
            ``accesskey:secretkey``); 401 otherwise.
        secret_key: see ``access_key``.

    """

    thread_name = "fake-ticketmatic"

    def __init__(self, items: Iterable[dict[str, Any]] = (), *, page_size: int = 100,
                 account: str = "acme", access_key: str | None = None,
                 secret_key: str | None = None) -> None:
        self.page_size = page_size
        self.account = account
        self._auth = (base64.b64encode(f"{access_key}:{secret_key}".encode()).decode()
                      if access_key and secret_key else None)
        self._lock = threading.Lock()
        self._items: list[dict[str, Any]] = []
        self._failures: list[tuple[str, Any]] = []
        self.requests: list[str] = []
        self.served = 0
        self.append(items)

    # -- control --------------------------------------------------------------------
    def append(self, items: Iterable[dict[str, Any]]) -> None:
        """Add items to the feed (as new activity in the account)."""
        with self._lock:
            self._items.extend(items)
            self._items.sort(key=lambda i: _parse_id(str(i["id"])))

    def fail_next(self, k: int, status: int = 500) -> None:
        """The next ``k`` requests answer ``status`` with an error body."""
        with self._lock:
            self._failures.extend([("status", status)] * k)

    def malformed_next(self, k: int = 1, body: bytes = b'{"moreresults": false, "results": {') -> None:
        """The next ``k`` requests answer 200 with ``body`` (not an EventstreamResult)."""
        with self._lock:
            self._failures.extend([("body", body)] * k)

    def stall_next(self, k: int, seconds: float) -> None:
        """The next ``k`` requests answer only after ``seconds`` (client timeouts)."""
        with self._lock:
            self._failures.extend([("stall", seconds)] * k)

    @property
    def items(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._items)

    @property
    def base_url(self) -> str:
        """The API root to give the connector (``.../api/1``)."""
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_port}/api/1"

    # -- serving --------------------------------------------------------------------
    def page(self, cursor: str) -> dict[str, Any]:
        """The EventstreamResult for ``cursor``."""
        start = _parse_id(cursor or "0")
        with self._lock:
            rest = [i for i in self._items if _parse_id(str(i["id"])) >= start]
        results = rest[:self.page_size]
        if results:
            ms, seq = _parse_id(str(results[-1]["id"]))
            nextid = f"{ms}-{seq + 1}"
        else:
            nextid = cursor or "0"
        return {"moreresults": len(rest) > len(results), "nextid": nextid,
                "results": results or None}

    def _next_failure(self) -> tuple[str, Any] | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlsplit(self.path)
                parts = url.path.strip("/").split("/")
                if parts[:2] != ["api", "1"] or len(parts) != 4 or parts[3] != "eventstream":
                    self._send(404, b'{"message": "Not found"}')
                    return
                if parts[2] != fake.account:
                    self._send(404, b'{"message": "Unknown account"}')
                    return
                if fake._auth and self.headers.get("Authorization") != f"Basic {fake._auth}":
                    self._send(401, b'{"message": "Unauthorized"}')
                    return
                cursor = parse_qs(url.query).get("id", ["0"])[0]
                with fake._lock:
                    fake.requests.append(cursor)
                failure = fake._next_failure()
                if failure is not None:
                    kind, arg = failure
                    if kind == "status":
                        self._send(int(arg), b'{"message": "Internal server error"}')
                        return
                    if kind == "body":
                        self._send(200, bytes(arg))
                        return
                    time.sleep(float(arg))
                body = json.dumps(fake.page(cursor)).encode()
                with fake._lock:
                    fake.served += 1
                self._send(200, body)

        return Handler

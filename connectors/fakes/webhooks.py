"""Vendor-shaped webhook deliveries and a fake Eventbrite API to fetch from.

Ships with the package (Bytewax style) so tests, benchmarks and demos play the vendors
the same way. Payloads follow the shapes in docs/data-sources.md and the vendors' public docs;
every buyer carries realistic personal data (``Person``) so privacy tests can look for
it in everything that reached Kafka.

A delivery is built as its vendor really sends it (``docs/identity-sources.md``) when
``secret`` is None: no signature; Eventix/OpenTicket with its ``OpenTicket-Identifier``
nonce, ``OpenTicket-Trigger``, ``OpenTicket-Dedupe-Key`` and ``User-Agent``; an
``url_token`` as the last segment of the path (``/webhooks/<vendor>/<account>/<token>``).
With a ``secret`` the fake plays a signing relay in front of the vendor
(``webhook.signing``): ``X-Signature`` over the body for Stager and Eventbrite, over the
``OpenTicket-Trigger`` header + newline + body for Eventix.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from connectors.fakes.http import FakeApiServer
from connectors.ticketing.webhook.signing import SIGNATURE_HEADER, sign

__all__ = ["EVENTIX_NONCE", "PEOPLE", "FakeEventbriteApi", "Person", "SignedRequest", "eventbrite_attendee",
           "eventbrite_delivery", "eventbrite_event", "eventbrite_order", "eventix_delivery",
           "eventix_order", "stager_delivery", "stager_ticket_type"]


@dataclass(frozen=True)
class Person:
    """A buyer with the personal data vendors send; none of it may reach Kafka."""

    customer_id: str
    firstname: str
    lastname: str
    email: str
    phone: str
    street: str
    postcode: str
    city: str
    country: str
    birthdate: str

    def personal_values(self) -> list[str]:
        """The raw values that must never appear in a Kafka record."""
        return [self.firstname, self.lastname, self.email, self.phone, self.street,
                self.birthdate, f"{self.firstname} {self.lastname}"]


PEOPLE = (
    Person("c-20931", "Annelies", "Verhoeven", "annelies.verhoeven@example.nl", "+31 6 12345678",
           "Oudegracht 231", "3511 NK", "Utrecht", "NL", "1984-05-17"),
    Person("c-77120", "Jeroen", "Baksteen", "j.baksteen@example.com", "+31 20 5556677",
           "Prinsengracht 88", "1015 DZ", "Amsterdam", "NL", "1961-11-02"),
    Person("c-31337", "Sofie", "Van den Broeck", "sofie.vdb@example.be", "+32 475 12 34 56",
           "Meir 12", "2000", "Antwerpen", "BE", "1999-02-28"),
)


@dataclass(frozen=True)
class SignedRequest:
    """A delivery ready to POST: ``path`` under the receiver, headers, exact body bytes."""

    path: str
    headers: dict[str, str]
    body: bytes
    payload: Any = None


#: The nonce the Eventix fake sends as ``OpenTicket-Identifier`` unless told another.
EVENTIX_NONCE = "5aK2HMgcUlDCWLuC3KWa"


def _signed(path: str, secret: str | None, payload: Any, headers: dict[str, str] | None = None,
            body: bytes | None = None, trigger: str | None = None,
            url_token: str | None = None) -> SignedRequest:
    """The request: signed when a relay ``secret`` is given, else as the vendor sends it."""
    raw = body if body is not None else json.dumps(payload).encode()
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    if secret is not None:
        hdrs[SIGNATURE_HEADER] = sign(secret, raw, trigger=trigger)
    if url_token is not None:
        path = f"{path}/{url_token}"
    return SignedRequest(path, hdrs, raw, payload)


# -- Eventix / OpenTicket ---------------------------------------------------------------
def eventix_order(*, event_id: str = "e-7f3a", tickets: list[tuple[str, int]] | None = None,
                  person: Person = PEOPLE[0], dip_id: str | None = "NL-23-1234-5|3",
                  order_guid: str | None = None, event_name: str = "De Gebroeders Karamazov",
                  ticket_guids: list[str] | None = None) -> dict[str, Any]:
    """An Eventix order: ``tickets`` is ``[(ticket name, price in cents), ...]``."""
    tickets = tickets if tickets is not None else [("Regulier", 2750), ("CJP korting", 2250)]
    guids = ticket_guids or [str(uuid.uuid4()) for _ in tickets]
    metadata = [{"name": "dip_id", "value": dip_id}] if dip_id else []
    return {
        "guid": order_guid or str(uuid.uuid4()),
        "status": "paid",
        "currency": "EUR",
        "purchase_channel": "shop",
        "created_at": "2025-03-01T19:01:40+01:00",
        "customer": {
            "guid": person.customer_id, "firstname": person.firstname,
            "lastname": person.lastname, "email": person.email, "phone": person.phone,
            "address": person.street, "postcode": person.postcode, "city": person.city,
            "country": person.country, "birthdate": person.birthdate,
        },
        "events": [{"guid": event_id, "name": event_name, "start": "2025-04-12T20:15:00+02:00",
                    "metadata": metadata}],
        "tickets": [{"guid": g, "event_id": event_id, "ticket_id": f"tt-{i}", "ticket_name": name,
                     "price": price, "barcode": "EVX" + g.replace("-", "")[:12].upper(),
                     "status": "valid", "scanned_at": None}
                    for i, (g, (name, price)) in enumerate(zip(guids, tickets, strict=True))],
    }


def eventix_delivery(account: str, secret: str | None, trigger: str, order: dict[str, Any], *,
                     ticket_guid: str | None = None, dedupe_key: str | None = None,
                     time: str = "2025-03-01T19:02:11+01:00", body: bytes | None = None,
                     nonce: str = EVENTIX_NONCE, url_token: str | None = None) -> SignedRequest:
    """An OpenTicket-style delivery of ``trigger`` (``ticket_guid`` for ticket triggers)
    with the webhook's ``nonce`` in ``OpenTicket-Identifier``; signed over the trigger and
    the body when a relay ``secret`` is given. ``dedupe_key`` is sent as OpenTicket does
    (the receiver does not read it)."""
    payload = {
        "meta": {"company_id": "53512e90-0139-11ee-8d31-79feaa0dd8b4",
                 "user_id": "535f11b0-0139-11ee-90b9-3766c05c0783"},
        "model": {"guid": ticket_guid or order["guid"], "type": "ticket" if ticket_guid else "order"},
        "type": trigger.rsplit(".", 1)[-1],
        "time": time,
        "order": order,
    }
    headers = {"User-Agent": "OpenTicket/Webhook", "OpenTicket-Trigger": trigger,
               "OpenTicket-Identifier": nonce,
               "OpenTicket-Dedupe-Key": dedupe_key or uuid.uuid4().hex}
    return _signed(f"/webhooks/eventix/{account}", secret, payload, headers, body, trigger,
                   url_token)


# -- Stager -----------------------------------------------------------------------------
def stager_ticket_type(name: str, price: str, total: int, available: int,
                       reserved: int = 0, sold_out_override: bool | None = None) -> dict[str, Any]:
    """A ticket type as Stager pushes it; ``sold_out_override``: the organiser closed
    (True) or reopened (False) its sale whatever the count."""
    return {"id": str(uuid.uuid4()), "name": name, "price": price, "total": total,
            "available": available, "reserved": reserved, "soldOut": available == 0,
            "soldOutOverride": sold_out_override}


def stager_delivery(account: str, secret: str | None, *, event_id: str = "st-8841",
                    ticket_types: list[dict[str, Any]] | None = None,
                    modified: str = "2025-03-02T10:15:00+01:00", dip_id: str | None = None,
                    channel: str = "website", body: bytes | None = None,
                    url_token: str | None = None) -> SignedRequest:
    """A Stager push-feed delivery (Extended permission level: counts per ticket type).
    Stager documents no signature: a real one carries only the ``url_token`` in its URL."""
    tts = ticket_types if ticket_types is not None else [
        stager_ticket_type("Regulier", "24.50", 300, 120, 10),
        stager_ticket_type("Studenten", "15.00", 50, 20, 0),
        stager_ticket_type("Vrijkaart", "0", 20, 12, 0),
    ]
    payload = {
        "trigger": "event.updated", "sentAt": "2025-03-02T10:15:02+01:00",
        "publicationChannel": {"id": channel, "name": "Eigen website"},
        "event": {"id": event_id, "name": "Wende - Mens", "start": "2025-05-03T20:30:00+02:00",
                  "modified": modified,
                  "customFields": [{"key": "dip_id", "value": dip_id}] if dip_id else [],
                  "ticketTypes": tts},
    }
    return _signed(f"/webhooks/stager/{account}", secret, payload, body=body,
                   url_token=url_token)


# -- Eventbrite -------------------------------------------------------------------------
def _money(cents: int, currency: str = "EUR") -> dict[str, Any]:
    return {"currency": currency, "value": cents, "major_value": f"{cents / 100:.2f}",
            "display": f"€{cents / 100:.2f}"}


def eventbrite_attendee(*, attendee_id: str, event_id: str, order_id: str,
                        ticket_class_name: str = "General Admission", price_cents: int = 2500,
                        person: Person = PEOPLE[1], checked_in: bool = False,
                        cancelled: bool = False, refunded: bool = False,
                        changed: str = "2025-03-05T18:00:00Z") -> dict[str, Any]:
    """An Eventbrite attendee (one ticket) with its profile."""
    status = "Checked In" if checked_in else ("Not Attending" if cancelled or refunded else "Attending")
    return {
        "id": attendee_id, "event_id": event_id, "order_id": order_id,
        "created": "2025-03-05T17:58:12Z", "changed": changed,
        "ticket_class_id": "tc-1", "ticket_class_name": ticket_class_name, "quantity": 1,
        "costs": {"base_price": _money(price_cents), "gross": _money(price_cents + 199),
                  "eventbrite_fee": _money(150), "payment_fee": _money(49), "tax": _money(0)},
        "profile": {"first_name": person.firstname, "last_name": person.lastname,
                    "name": f"{person.firstname} {person.lastname}", "email": person.email,
                    "cell_phone": person.phone, "birth_date": person.birthdate,
                    "addresses": {"home": {"address_1": person.street, "city": person.city,
                                           "postal_code": person.postcode,
                                           "country": person.country}}},
        "barcodes": [{"barcode": f"{attendee_id}001", "status": "used" if checked_in else "unused",
                      "created": "2025-03-05T17:58:12Z", "changed": changed}],
        "checked_in": checked_in, "cancelled": cancelled, "refunded": refunded, "status": status,
        "resource_uri": f"https://www.eventbriteapi.com/v3/events/{event_id}/attendees/{attendee_id}/",
    }


def eventbrite_order(*, order_id: str, event_id: str, attendees: list[dict[str, Any]],
                     person: Person = PEOPLE[1], status: str = "placed",
                     changed: str = "2025-03-05T18:00:00Z") -> dict[str, Any]:
    """An Eventbrite order as ``GET /v3/orders/{id}/?expand=attendees`` returns it."""
    total = sum(a["costs"]["base_price"]["value"] for a in attendees)
    return {
        "id": order_id, "event_id": event_id, "status": status,
        "created": "2025-03-05T17:58:12Z", "changed": changed,
        "name": f"{person.firstname} {person.lastname}", "first_name": person.firstname,
        "last_name": person.lastname, "email": person.email, "time_remaining": None,
        "costs": {"base_price": _money(total), "gross": _money(total + 199 * len(attendees))},
        "resource_uri": f"https://www.eventbriteapi.com/v3/orders/{order_id}/",
        "attendees": attendees,
    }


def eventbrite_event(*, event_id: str, name: str = "Het Nationale Theater - Hamlet",
                     status: str = "live", capacity: int = 420,
                     changed: str = "2025-03-01T09:00:00Z") -> dict[str, Any]:
    """An Eventbrite event as ``GET /v3/events/{id}/?expand=venue`` returns it."""
    return {
        "id": event_id, "name": {"text": name, "html": name},
        "start": {"timezone": "Europe/Amsterdam", "local": "2025-04-20T20:00:00",
                  "utc": "2025-04-20T18:00:00Z"},
        "end": {"timezone": "Europe/Amsterdam", "local": "2025-04-20T22:30:00",
                "utc": "2025-04-20T20:30:00Z"},
        "url": f"https://www.eventbrite.nl/e/{event_id}", "status": status, "capacity": capacity,
        "created": "2025-01-10T12:00:00Z", "changed": changed, "online_event": False,
        "venue_id": "v-99",
        "venue": {"id": "v-99", "name": "Koninklijke Schouwburg",
                  "address": {"address_1": "Korte Voorhout 3", "city": "Den Haag",
                              "postal_code": "2511 CW", "country": "NL"}},
    }


def eventbrite_delivery(account: str, secret: str | None, action: str, api_url: str, *,
                        body: bytes | None = None, url_token: str | None = None) -> SignedRequest:
    """An Eventbrite delivery: only the action and the URL of the changed resource, with
    the headers Eventbrite sends (no signature). Its ``config.endpoint_url`` echoes the
    URL it was sent to, ``url_token`` included."""
    path = f"/webhooks/eventbrite/{account}"
    endpoint = "https://bus.example.nl" + path + (f"/{url_token}" if url_token else "")
    payload = {"config": {"action": action, "user_id": "1987654321", "endpoint_url": endpoint,
                          "webhook_id": "8765432"},
               "api_url": api_url}
    headers = {"X-Eventbrite-Event": action, "X-Eventbrite-Delivery": uuid.uuid4().hex[:12],
               "User-Agent": "Eventbrite Hookshot 7c5dd3e"}
    return _signed(path, secret, payload, headers, body=body, url_token=url_token)


@dataclass
class _ApiState:
    token: str
    resources: dict[str, Any] = field(default_factory=dict)
    fail_next: list[int] = field(default_factory=list)
    always_fail: int | None = None
    requests: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeEventbriteApi:
    """Serves Eventbrite v3 resources on 127.0.0.1 (free port) under ``/v3/...``.

    Lifecycle: ``start()`` (or ``with``) binds and serves in a thread; ``close()`` stops.
    Requests need ``Authorization: Bearer <token>``; ``fail(n, status)`` makes the next
    ``n`` requests fail, ``fail(None, status)`` every request until ``fail(0)``.
    """

    def __init__(self, token: str = "PRIVATE-TOKEN-0001") -> None:  # noqa: S107 - a fake's token
        self.state = _ApiState(token)
        state = self.state

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = urlsplit(self.path).path
                with state.lock:
                    state.requests.append(self.path)
                    failing = state.always_fail or (state.fail_next.pop(0) if state.fail_next else None)
                if failing:
                    return self._send(failing, {"error": "INTERNAL_ERROR", "status_code": failing})
                if self.headers.get("Authorization") != f"Bearer {state.token}":
                    return self._send(401, {"error": "INVALID_AUTH", "status_code": 401})
                with state.lock:
                    resource = state.resources.get(path.rstrip("/") + "/")
                if resource is None:
                    return self._send(404, {"error": "NOT_FOUND", "status_code": 404})
                return self._send(200, resource)

            def _send(self, status: int, obj: Any) -> None:
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = FakeApiServer(("127.0.0.1", 0), Handler)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}/v3"

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def requests(self) -> list[str]:
        return list(self.state.requests)

    def put(self, path: str, resource: Any) -> str:
        """Serve ``resource`` at ``/v3/<path>/``; returns its api_url."""
        key = "/v3/" + path.strip("/") + "/"
        with self.state.lock:
            self.state.resources[key] = resource
        return f"http://{self.host}{key}"

    def put_order(self, order: dict[str, Any]) -> str:
        return self.put(f"orders/{order['id']}", order)

    def put_attendee(self, attendee: dict[str, Any]) -> str:
        return self.put(f"events/{attendee['event_id']}/attendees/{attendee['id']}", attendee)

    def put_event(self, event: dict[str, Any]) -> str:
        return self.put(f"events/{event['id']}", event)

    def fail(self, n: int | None, status: int = 503) -> None:
        with self.state.lock:
            if n is None:
                self.state.always_fail = status
            else:
                self.state.always_fail = None
                self.state.fail_next = [status] * n

    def start(self) -> FakeEventbriteApi:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="fake-eventbrite",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeEventbriteApi:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

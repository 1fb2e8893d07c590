"""A fake DIP (Digitaal Informatieplatform Podiumkunsten) on loopback.

Serves the calendar side (productions and their performances) and a vendor-style
cumulative sales list, with DIP's field names from docs/data-sources.md (production: ``id,
title, season, genre{id,name}, producer{id,name}``; performance: ``number, date,
status agreed|cancellation, type normal|premiere|tryout, theater{id, name, zipcode,
city, province{id,name}, type}, capacity``).

The paths are a plausible REST design of ours; DIP's real API paths may differ (only
the ``PUT .../cumulative`` calls come from docs/data-sources.md)::

    GET /productions?modifiedSince=<iso>&page=<n>&pageSize=<n>
        -> {"data": [production...], "page", "pageSize", "total"}  (sorted by updated)
    GET /productions/{id}/performances -> {"data": [performance...]}
    GET /cumulative -> {"data": [{"production", "number", "updated", "tickets": {...},
                                 "reservations": {...}, "blockedSeats": {...},
                                 "capacity": n}]}

``updated`` on productions (ISO-8601 with offset) is inferred: DIP reports ``updated``
on sales per performance. ``fail_next(k)`` makes the next requests answer 500.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from connectors.fakes.http import ServedFake

__all__ = ["FakeDip", "cumulative_entry", "dip_performance", "dip_production", "dip_theater"]


def dip_theater(id: str = "T-0042", name: str = "Stadsschouwburg Utrecht",  # noqa: A002
                zipcode: str = "3511 EN", city: str = "Utrecht",
                province: tuple[str, str] = ("26", "Utrecht")) -> dict[str, Any]:
    """A DIP theater."""
    return {"id": id, "name": name, "zipcode": zipcode, "city": city,
            "province": {"id": province[0], "name": province[1]}, "type": "Theater"}


def dip_production(id: str, title: str, updated: datetime, *,  # noqa: A002
                   season: str = "2024-2025", genre: tuple[str, str] = ("13", "Cabaret"),
                   producer: tuple[str, str] = ("P-0077", "Het Nationale Theater")) -> dict[str, Any]:
    """A DIP production."""
    return {"id": id, "title": title, "season": season,
            "genre": {"id": genre[0], "name": genre[1]},
            "producer": {"id": producer[0], "name": producer[1]},
            "updated": updated.isoformat()}


def dip_performance(number: int, date: datetime | str, *, status: str = "agreed",
                    type: str = "normal", theater: dict[str, Any] | None = None,  # noqa: A002
                    capacity: int | Sequence[tuple[str, int]] | None = 640) -> dict[str, Any]:
    """A DIP performance; ``capacity`` an int or ``[(seat rank, seats)]``."""
    cap: Any = capacity
    if capacity is not None and not isinstance(capacity, int):
        cap = [{"rank": rank, "capacity": seats} for rank, seats in capacity]
    return {"number": number, "date": date if isinstance(date, str) else date.isoformat(),
            "status": status, "type": type, "theater": theater or dip_theater(), "capacity": cap}


def cumulative_entry(production: str, number: int, updated: datetime, *,
                     normal: tuple[int, int] = (0, 0), discount: tuple[int, int] = (0, 0),
                     free: tuple[int, int] = (0, 0), other: tuple[int, int] = (0, 0),
                     reservations: tuple[int, int] = (0, 0), blocked: tuple[int, int] = (0, 0),
                     capacity: int | None = None) -> dict[str, Any]:
    """One performance's cumulative sales as a vendor lists them (same fields as the PUTs)."""
    entry: dict[str, Any] = {
        "production": production, "number": number, "updated": updated.isoformat(),
        "tickets": {name: {"tickets": t, "recette": c} for name, (t, c) in
                    (("normal", normal), ("discount", discount), ("free", free), ("other", other))},
        "reservations": {"reservations": reservations[0], "value": reservations[1]},
        "blockedSeats": {"blockedSeats": blocked[0], "value": blocked[1]},
    }
    if capacity is not None:
        entry["capacity"] = capacity
    return entry


class FakeDip(ServedFake):
    """Lifecycle: ``start()`` binds 127.0.0.1 on a free port, ``stop()`` ends it.

    Args:
        productions: ``(production, [performance...])`` pairs.
        page_size: default ``pageSize`` of ``/productions``.

    """

    thread_name = "fake-dip"

    def __init__(self, productions: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]] = (),
                 *, page_size: int = 50) -> None:
        self.page_size = page_size
        self._lock = threading.Lock()
        self._productions: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        self._cumulative: list[dict[str, Any]] = []
        self._failures = 0
        self.requests: list[str] = []
        self.put(productions)

    def put(self, productions: Iterable[tuple[dict[str, Any], list[dict[str, Any]]]]) -> None:
        """Create or replace productions (a producer editing DIP)."""
        with self._lock:
            for prod, perfs in productions:
                self._productions[str(prod["id"])] = (prod, list(perfs))

    def set_cumulative(self, entries: Iterable[dict[str, Any]]) -> None:
        """Replace the vendor's cumulative sales list."""
        with self._lock:
            self._cumulative = list(entries)

    def fail_next(self, k: int) -> None:
        with self._lock:
            self._failures += k

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_port}"

    # -- serving --------------------------------------------------------------------
    def _productions_page(self, query: dict[str, list[str]]) -> dict[str, Any]:
        since = query.get("modifiedSince", [""])[0]
        cutoff = datetime.fromisoformat(since) if since else datetime.min.replace(tzinfo=UTC)
        page = max(int(query.get("page", ["1"])[0]), 1)
        size = max(int(query.get("pageSize", [str(self.page_size)])[0]), 1)
        with self._lock:
            prods = [p for p, _ in self._productions.values()
                     if datetime.fromisoformat(p["updated"]) >= cutoff]
        prods.sort(key=lambda p: (datetime.fromisoformat(p["updated"]), p["id"]))
        return {"data": prods[(page - 1) * size: page * size], "page": page, "pageSize": size,
                "total": len(prods)}

    def _route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.strip("/").split("/")]
        if parts == ["productions"]:
            return 200, self._productions_page(query)
        if len(parts) == 3 and parts[0] == "productions" and parts[2] == "performances":
            with self._lock:
                found = self._productions.get(parts[1])
            if found is None:
                return 404, {"message": f"production {parts[1]} not found"}
            return 200, {"data": found[1]}
        if parts == ["cumulative"]:
            with self._lock:
                return 200, {"data": list(self._cumulative)}
        return 404, {"message": "not found"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlsplit(self.path)
                with fake._lock:
                    fake.requests.append(self.path)
                    failing = fake._failures > 0
                    fake._failures -= 1 if failing else 0
                status, payload = ((500, {"message": "Internal server error"}) if failing
                                   else fake._route(url.path, parse_qs(url.query)))
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

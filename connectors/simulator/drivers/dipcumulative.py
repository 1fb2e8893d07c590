"""DIP cumulative: the calls Dutch ticketing systems make to DIP, made to the bus's
DIP-compatible receiver (the real ``DipReceiver`` app on a free loopback port).

Each season snapshot of a dip-cumulative performance becomes the ``PUT`` calls of
``granularity.dip_calls`` (capacity once, tickets every time, reservations and
blocked seats when they changed), each body stamped with ``updated``; every accepted
call is one ``SalesSnapshot``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bus.http import HttpServer
from connectors.simulator.drivers.base import Driver, SimulationError, Unit, push_all
from connectors.simulator.drivers.render import iso
from connectors.simulator.granularity import DipCall, dip_calls
from connectors.simulator.model import DIP_CUMULATIVE, Snapshot
from connectors.ticketing.dip.app import create_app
from connectors.ticketing.dip.book import SnapshotBook
from connectors.ticketing.dip.receiver import DipReceiver

__all__ = ["DipCumulativeDriver"]

_PATHS = {"tickets": "tickets/cumulative", "reservations": "reservations/cumulative",
          "blocked-seats": "blocked-seats/cumulative", "capacity": "capacity"}
_ATTEMPTS = 8
ACCOUNT = "simulated-ticketing"


class DipCumulativeDriver(Driver):
    kind = DIP_CUMULATIVE
    connector = "dip"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._server: HttpServer | None = None
        self._client: httpx.Client | None = None

    def units(self) -> list[Unit]:
        season = self.env.season
        by_perf: dict[str, list[Snapshot]] = {}
        for s in season.snapshots:
            if season.performance(s.performance).ticketing == self.kind:
                by_perf.setdefault(s.performance, []).append(s)
        units = [(calls[0].updated, perf, Unit(perf, len(calls), calls))
                 for perf, snaps in by_perf.items() for calls in dip_calls(snaps)]
        return [u for _, _, u in sorted(units, key=lambda x: (x[0], x[1]))]

    def start(self) -> None:
        self._ctx = self.env.context(self.connector)
        receiver = DipReceiver(self._ctx, ACCOUNT, SnapshotBook(self._ctx.positions))
        self._server = HttpServer(create_app(receiver), "127.0.0.1", 0).start()
        n = max(4, self.env.workers * 2)
        self._client = httpx.Client(base_url=self._server.url, timeout=60.0,
                                    limits=httpx.Limits(max_connections=n))

    def _put(self, perf: str, call: DipCall) -> int:
        assert self._client is not None
        p = self.env.season.performance(perf)
        path = (f"/productions/{p.production_id}/performances/{p.dip_number}/"
                f"{_PATHS[call.part]}")
        body = json.dumps({**call.body, "updated": iso(call.updated)}).encode()
        problem = ""
        for _ in range(_ATTEMPTS):
            try:
                resp = self._client.put(path, content=body,
                                        headers={"Content-Type": "application/json"})
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                time.sleep(0.5)
                continue
            if resp.status_code == 200:
                return 1
            if resp.status_code >= 500:
                problem = f"HTTP {resp.status_code}: {resp.text[:200]}"
                time.sleep(min(float(resp.headers.get("Retry-After", "1")), 5.0))
                continue
            raise SimulationError(f"PUT {path} refused with HTTP {resp.status_code}: "
                                  f"{resp.text[:300]}")
        raise SimulationError(f"PUT {path} not accepted after {_ATTEMPTS} attempts ({problem})")

    def deliver(self, units: Sequence[Unit]) -> None:
        def send(u: Unit) -> int:
            return sum(self._put(u.perf, call) for call in u.payload)

        push_all(self.env, units, send, self.stats)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        if self._server is not None:
            self._server.stop()
            self._ctx.close()

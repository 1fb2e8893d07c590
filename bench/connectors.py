"""Connector publish rates: every connector kind through its real code path, fed by the
fakes of ``connectors/fakes`` with realistic shapes. A rate is facts acknowledged by
Kafka per second.

- Webhook receiver (``cultuurbus connector webhook``, a subprocess) under concurrent
  signed deliveries: Eventix/OpenTicket ``order.paid`` (timed for ``webhook_seconds``),
  Eventbrite (each delivery makes the receiver fetch its ``api_url`` from the fake
  Eventbrite API: ``order.placed`` with 1-3 attendees) and Stager (counts per ticket
  type, one snapshot per delivery). A fact counts once the receiver answered 200,
  which it does only after Kafka acknowledged it; timed from the first request sent to
  the last answer.
- DIP receiver (``cultuurbus connector dip``, a subprocess): DIP's cumulative ``PUT``
  calls (capacity once, then tickets, reservations, blocked seats), timed the same way.
- For each receiver load: answer times (p50, p99, max) and the receiver process's CPU
  seconds over the load (user + system), hence facts per CPU-second: on a shared
  two-core machine that figure moves far less than facts/s.
- Pollers (``cultuurbus connector ...`` subprocesses against the fakes): the Ticketmatic
  eventstream (timed by the Kafka timestamps of its first and last fact, as before), the
  DIP cumulative list and DIP calendar (``--until-caught-up``), UiTdatabank Search API,
  schema.org JSON-LD pages and an iCalendar feed (these poll forever: stopped once every
  performance is on Kafka). Timed from the first request the fake served to the Kafka
  timestamp of the last fact: fetching, parsing and mapping count, start-up does not.
- Box-office CSV import: in process (``CsvImporter``, the library call ``cultuurbus
  connector file`` makes, with the same connector context, after a small warm-up file),
  timed around ``import_file``; then the same file again, which publishes nothing (its
  time is reported).

The pollers and the importer are in ``bench.pollers``; this module runs every kind.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from bench.data import Dataset
from bench.env import Bench
from bench.options import Sizes
from bench.pollers import (
    csv_file,
    dip_calendar,
    dip_id,
    dip_poller,
    dip_value,
    ical,
    poller,
    schemaorg,
    uitdatabank,
)
from bench.roles import Role, running
from bus.settings import Settings
from connectors.fakes import webhooks as wh
from connectors.fakes.webhooks import FakeEventbriteApi, SignedRequest
from ops.stack.ports import free_ports

__all__ = ["KINDS", "measure_connectors"]


SECRET = "bench-webhook-secret-" + uuid.uuid4().hex[:8]  # noqa: S105 - a throwaway local key
EVENTBRITE_TOKEN = "bench-eventbrite-token-" + uuid.uuid4().hex[:8]  # noqa: S105 - a fake's token
#: Connector kinds in the order they run (keys of ``pipeline.connectors_eps``).
KINDS = ("webhook_eventix", "webhook_eventbrite", "webhook_stager", "eventstream", "dip_receiver",
         "dip_poller", "dip_calendar", "csv_file", "uitdatabank", "schemaorg", "ical")


def _deliveries(ds: Dataset, count: int) -> list[SignedRequest]:
    """Signed ``order.paid`` deliveries (1-2 tickets each) for the dataset's performances."""
    out = []
    perfs = ds.performances
    for i in range(count):
        perf = perfs[i % len(perfs)]
        tickets = [("Regulier", 2750)] if i % 3 else [("Regulier", 2750), ("CJP korting", 2250)]
        order = wh.eventix_order(event_id=f"e-{i % len(perfs):06d}", tickets=tickets, person=wh.PEOPLE[i % 3],
                              dip_id=perf["performance_key"].split("|", 1)[1], event_name=perf["title"])
        out.append(wh.eventix_delivery("acme", SECRET, "order.paid", order))
    return out


@dataclass(frozen=True)
class Call:
    """One HTTP request of a load: method, path under the receiver, headers, body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @classmethod
    def post(cls, req: SignedRequest) -> Call:
        return cls("POST", req.path, req.headers, req.body)

    def wire(self, host: str) -> bytes:
        """The request as HTTP/1.1 bytes on a keep-alive connection."""
        head = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}",
                f"Content-Length: {len(self.body)}",
                *(f"{k}: {v}" for k, v in self.headers.items() if k.lower() != "content-length")]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + self.body


def _facts_of(status: int, body: bytes) -> int:
    """Facts a 200 answer says Kafka acknowledged: the webhook's ``facts``, one per DIP call."""
    if status != 200:
        return 0
    answer = json.loads(body)
    if answer.get("facts") is not None:
        return int(answer["facts"])
    return 1 if answer.get("status") == "accepted" else 0


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
    """One HTTP/1.1 answer: status, whether the server closes the connection, body."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:] if h)}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while size := int((await reader.readline()).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readline()
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection", "").lower() == "close", body


async def _load(url: str, calls: list[Call] | list[SignedRequest], seconds: float,
                concurrency: int) -> dict[str, Any]:
    """Send ``calls`` with ``concurrency`` in flight until all are answered or ``seconds`` passed.

    Each of the ``concurrency`` senders keeps one HTTP/1.1 connection open and writes
    requests as bytes, so the generator costs far less CPU than the receiver it measures
    (an httpx client spent about 4 ms per request, more than the receiver on a shared
    two-core machine, and measured itself).
    """
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    queue = iter([c if isinstance(c, Call) else Call.post(c) for c in calls])
    latencies: list[float] = []
    facts = errors = 0
    refused: dict[int, int] = {}
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal facts, errors
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            for call in queue:
                if time.monotonic() > deadline:
                    return
                if conn is None:
                    conn = await asyncio.open_connection(host, port)
                reader, writer = conn
                t0 = time.perf_counter()
                writer.write(call.wire(f"{host}:{port}"))
                async with asyncio.timeout(30.0):
                    status, close, body = await _answer(reader)
                latencies.append(time.perf_counter() - t0)
                if status == 200:
                    facts += _facts_of(status, body)
                else:
                    errors += 1
                    refused[status] = refused.get(status, 0) + 1
                if close:
                    writer.close()
                    conn = None
        finally:
            if conn is not None:
                conn[1].close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - t0
    lat = sorted(latencies) or [0.0]
    return {"deliveries": len(latencies), "facts": facts, "errors": errors, "refused": refused,
            "seconds": round(elapsed, 2), "eps": facts / elapsed,
            "deliveries_per_s": len(latencies) / elapsed, "concurrency": concurrency,
            "latency_ms": {"p50": round(1000 * statistics.median(lat), 1),
                           "p99": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
                           "max": round(1000 * lat[-1], 1)}}


def _measured(role: Role, url: str, calls: list[Call] | list[SignedRequest], seconds: float,
              concurrency: int) -> dict[str, Any]:
    """``_load`` plus the CPU seconds ``role`` spent meanwhile and its facts per CPU-second."""
    cpu0 = role.cpu_seconds()
    out = asyncio.run(_load(url, calls, seconds, concurrency))
    cpu = role.cpu_seconds() - cpu0
    out["cpu_s"] = round(cpu, 2)
    out["eps_per_cpu_s"] = round(out["facts"] / cpu, 1) if cpu > 0 else None
    return out


def _say_load(bench: Bench, kind: str, out: dict[str, Any]) -> None:
    per_cpu = f", {out['eps_per_cpu_s']:,.0f} facts/CPU-s" if out.get("eps_per_cpu_s") else ""
    bench.say(f"connectors: {kind} {out['facts']:,} facts ({out['deliveries']:,} requests, "
              f"{out['errors']} refused) in {out['seconds']:.1f} s = {out['eps']:,.0f} facts/s, "
              f"p99 answer {out['latency_ms']['p99']} ms{per_cpu}")


def _receiver(bench: Bench, s: Settings, name: str, argv: list[str], **env: str) -> Role:
    (port,) = free_ports(1)
    return Role(name, [*argv, "--port", str(port)], bench.env(s, **env),
                bench.state / s.topic_prefix.strip(".") / f"{name.replace(' ', '-')}.log",
                f"http://127.0.0.1:{port}/healthz", f"http://127.0.0.1:{port}")


def _webhook(bench: Bench, ds: Dataset, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("hook")
    requests = _deliveries(ds, int(min(40_000, max(200, sizes.webhook_seconds * 2_500))))
    hook = _receiver(bench, s, "webhook receiver", ["connector", "webhook"],
                     CULTUURBUS_WEBHOOK__SECRETS=json.dumps({"eventix/acme": SECRET}))
    with running(hook, timeout=60):
        assert hook.url is not None
        asyncio.run(_load(hook.url, requests[:20], 5.0, 4))  # warm up: connections, registry, producer
        out = _measured(hook, hook.url, requests[20:], sizes.webhook_seconds, sizes.webhook_concurrency)
        hook.check()
        out["rss_mb"] = hook.peak_rss_mb()
    _say_load(bench, "webhook Eventix", out)
    return out


# -- Eventbrite and Stager deliveries --------------------------------------------------
def _eventbrite(api: FakeEventbriteApi, ds: Dataset, facts: int) -> list[SignedRequest]:
    """``order.placed`` deliveries (1-3 attendees each, ~``facts`` in all); every order is
    served by the fake API at the delivery's api_url."""
    out: list[SignedRequest] = []
    perfs, n, i = ds.performances, 0, 0
    while n < facts:
        event_id, order_id = f"{7_100_000_000 + i % len(perfs)}", f"{5_500_000_000 + i}"
        who = wh.PEOPLE[i % len(wh.PEOPLE)]
        attendees = [wh.eventbrite_attendee(attendee_id=f"{order_id}{k:02d}", event_id=event_id,
                                         order_id=order_id, person=who,
                                         ticket_class_name="CJP" if k == 1 else "Regulier",
                                         price_cents=2250 if k == 1 else 2750)
                     for k in range(i % 3 + 1)]
        url = api.put_order(wh.eventbrite_order(order_id=order_id, event_id=event_id, attendees=attendees,
                                             person=who))
        out.append(wh.eventbrite_delivery("acme", SECRET, "order.placed", url))
        n += len(attendees)
        i += 1
    return out


def _stager(ds: Dataset, count: int) -> list[SignedRequest]:
    """Push-feed deliveries: each a later, larger count per ticket type of a performance."""
    base = datetime(2025, 3, 2, 10, 0, tzinfo=UTC)
    perfs, out = ds.performances, []
    for i in range(count):
        perf, round_ = perfs[i % len(perfs)], i // len(perfs) + 1
        cap = int(perf["capacity"] or 500)
        sold = min(cap - 30, 7 * round_ + i % 5)
        types = [wh.stager_ticket_type("Regulier", "27.50", cap - 40, max(cap - 40 - sold, 0), 3),
                 wh.stager_ticket_type("CJP", "22.50", 30, 30 - min(30, round_), 0),
                 wh.stager_ticket_type("Vrijkaart", "0", 10, 10 - min(10, round_ // 2), 0)]
        out.append(wh.stager_delivery("acme", SECRET, event_id=f"st-{i % len(perfs):06d}", ticket_types=types,
                                   modified=(base + timedelta(seconds=i)).isoformat(),
                                   dip_id=dip_value(perf)))
    return out


def _webhook_vendors(bench: Bench, ds: Dataset, sizes: Sizes) -> dict[str, Any]:
    """Eventbrite and Stager deliveries to one receiver (one after the other)."""
    s = bench.fresh("hookv")
    n = sizes.connector_records
    with FakeEventbriteApi(EVENTBRITE_TOKEN) as api:
        brite = _eventbrite(api, ds, n + 20)
        stager = _stager(ds, n + 10)
        hook = _receiver(bench, s, "webhook receiver", ["connector", "webhook"],
                         CULTUURBUS_WEBHOOK__SECRETS=json.dumps({"eventbrite/acme": SECRET,
                                                                 "stager/acme": SECRET}),
                         CULTUURBUS_WEBHOOK__EVENTBRITE_TOKENS=json.dumps({"acme": EVENTBRITE_TOKEN}),
                         CULTUURBUS_WEBHOOK__EVENTBRITE_API_HOSTS=json.dumps([api.host]))
        out: dict[str, Any] = {}
        with running(hook, timeout=60):
            assert hook.url is not None
            wait = sizes.max_wait_s
            asyncio.run(_load(hook.url, brite[:10], 10.0, 4))  # warm up
            conc = sizes.webhook_concurrency
            out["webhook_eventbrite"] = _measured(hook, hook.url, brite[10:], wait, conc)
            _say_load(bench, "webhook Eventbrite (fetching api_url)", out["webhook_eventbrite"])
            asyncio.run(_load(hook.url, stager[:10], 10.0, 4))
            out["webhook_stager"] = _measured(hook, hook.url, stager[10:], wait, conc)
            _say_load(bench, "webhook Stager", out["webhook_stager"])
            hook.check()
            out["webhook_eventbrite"]["fetches"] = len(api.requests)
    return out


# -- DIP ---------------------------------------------------------------------------------
def _dip_calls(count: int, perfs: int) -> list[Call]:
    """Cumulative PUTs round after round: capacity first, then tickets, reservations and
    blocked seats in turn, each stamped later than the performance's previous call."""
    base = datetime(2025, 2, 1, 9, 0, tzinfo=UTC)
    out: list[Call] = []
    headers = {"Content-Type": "application/json"}
    for i in range(count):
        k, r = i % perfs, i // perfs
        prod, num = dip_id(k)
        updated = (base + timedelta(minutes=r, seconds=k % 60)).isoformat()
        body: dict[str, Any]
        if r == 0:
            part, body = "capacity", {"capacity": 400 + 10 * (k % 50)}
        elif r % 3 != 0:
            t = 6 * r + k % 4
            part, body = "tickets/cumulative", {"normal": {"tickets": t, "recette": t * 2750},
                                                "discount": {"tickets": r, "recette": r * 2250},
                                                "free": {"tickets": r // 3, "recette": 0}}
        elif r % 2:
            part, body = "reservations/cumulative", {"reservations": r % 7, "value": (r % 7) * 2750}
        else:
            part, body = "blocked-seats/cumulative", {"blockedSeats": 4, "value": 0}
        out.append(Call("PUT", f"/productions/{prod}/performances/{num}/{part}", headers,
                        json.dumps({**body, "updated": updated}).encode()))
    return out


def _dip_receiver(bench: Bench, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("dipr")
    n = sizes.connector_records
    calls = _dip_calls(n + 20, max(10, n // 6))
    role = _receiver(bench, s, "dip receiver", ["connector", "dip", "--account", "bench"])
    with running(role, timeout=60):
        assert role.url is not None
        asyncio.run(_load(role.url, calls[:20], 10.0, 4))
        out = _measured(role, role.url, calls[20:], sizes.max_wait_s, sizes.webhook_concurrency)
        role.check()
        out["rss_mb"] = role.peak_rss_mb()
    _say_load(bench, "DIP receiver (PUT cumulative)", out)
    return out


def _guard(bench: Bench, kind: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One kind failing is recorded with its error; the others still run."""
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - one failed kind must not lose the others
        bench.say(f"connectors: {kind} FAILED: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}


def measure_connectors(bench: Bench, ds: Dataset, sizes: Sizes) -> dict[str, Any]:
    """Publish rates of every connector kind (``KINDS``); ``webhook`` and ``poller`` keep
    their names (the Eventix receiver and the eventstream poller)."""
    out: dict[str, Any] = {"webhook": _webhook(bench, ds, sizes), "poller": poller(bench, sizes)}
    vendors = _guard(bench, "webhook vendors", lambda: _webhook_vendors(bench, ds, sizes))
    for kind in ("webhook_eventbrite", "webhook_stager"):
        out[kind] = vendors.get(kind, vendors)
    out["dip_receiver"] = _guard(bench, "dip_receiver", lambda: _dip_receiver(bench, sizes))
    out["dip_poller"] = _guard(bench, "dip_poller", lambda: dip_poller(bench, sizes))
    out["dip_calendar"] = _guard(bench, "dip_calendar", lambda: dip_calendar(bench, sizes))
    out["csv_file"] = _guard(bench, "csv_file", lambda: csv_file(bench, ds, sizes))
    out["uitdatabank"] = _guard(bench, "uitdatabank", lambda: uitdatabank(bench, sizes))
    out["schemaorg"] = _guard(bench, "schemaorg", lambda: schemaorg(bench, sizes))
    out["ical"] = _guard(bench, "ical", lambda: ical(bench, sizes))
    out["eps"] = {kind: out[_source(kind)]["eps"] for kind in KINDS if "eps" in out[_source(kind)]}
    return out


def _source(kind: str) -> str:
    return {"webhook_eventix": "webhook", "eventstream": "poller"}.get(kind, kind)

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
"""

from __future__ import annotations

import asyncio
import csv
import json
import statistics
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bench.data import Dataset
from bench.env import Bench
from bench.kafkaio import Offsets
from bench.options import Sizes
from bench.roles import REPO, Role, running, stop_process_group
from bus.settings import Settings
from bus.topics import PERFORMANCES, SNAPSHOTS, TICKET_EVENTS, dlq_of, topic_name
from connectors.fakes import webhooks as wh
from connectors.fakes.calendars import (
    FakeCalendarSite,
    FakeRequest,
    FakeResponse,
    ical_feed,
    schemaorg_page,
    theater_event,
    vevent,
)
from connectors.fakes.dip import FakeDip, cumulative_entry, dip_performance, dip_production, dip_theater
from connectors.fakes.ticketmatic import FakeTicketmatic, generate_feed
from connectors.fakes.uitdatabank import FakeUitdatabank, uit_event
from connectors.fakes.webhooks import FakeEventbriteApi, SignedRequest
from connectors.sdk.context import ConnectorContext
from connectors.simulator.drivers.boxoffice import HEADER as BOXOFFICE_HEADER
from connectors.ticketing.csvfile.importer import CsvImporter
from connectors.ticketing.csvfile.mapping import RowEnv
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


def _facts_of(resp: httpx.Response) -> int:
    """Facts a 200 answer says Kafka acknowledged: the webhook's ``facts``, one per DIP call."""
    if resp.status_code != 200:
        return 0
    body = resp.json()
    if body.get("facts") is not None:
        return int(body["facts"])
    return 1 if body.get("status") == "accepted" else 0


async def _load(url: str, calls: list[Call] | list[SignedRequest], seconds: float,
                concurrency: int) -> dict[str, Any]:
    """Send ``calls`` with ``concurrency`` in flight until all are answered or ``seconds`` passed."""
    queue = iter([c if isinstance(c, Call) else Call.post(c) for c in calls])
    latencies: list[float] = []
    facts = errors = 0
    refused: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as http:

        async def worker() -> None:
            nonlocal facts, errors
            for call in queue:
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                resp = await http.request(call.method, call.path, content=call.body, headers=call.headers)
                latencies.append(time.perf_counter() - t0)
                if resp.status_code == 200:
                    facts += _facts_of(resp)
                else:
                    errors += 1
                    refused[resp.status_code] = refused.get(resp.status_code, 0) + 1

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


def _say_load(bench: Bench, kind: str, out: dict[str, Any]) -> None:
    bench.say(f"connectors: {kind} {out['facts']:,} facts ({out['deliveries']:,} requests, "
              f"{out['errors']} refused) in {out['seconds']:.1f} s = {out['eps']:,.0f} facts/s, "
              f"p99 answer {out['latency_ms']['p99']} ms")


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
        out = asyncio.run(_load(hook.url, requests[20:], sizes.webhook_seconds, sizes.webhook_concurrency))
        hook.check()
        out["rss_mb"] = hook.peak_rss_mb()
    _say_load(bench, "webhook Eventix", out)
    return out


# -- Eventbrite and Stager deliveries --------------------------------------------------
def _dip_value(perf: dict[str, Any]) -> str:
    return str(perf["performance_key"]).split("|", 1)[1]


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
                                   dip_id=_dip_value(perf)))
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
            out["webhook_eventbrite"] = asyncio.run(_load(hook.url, brite[10:], wait, conc))
            _say_load(bench, "webhook Eventbrite (fetching api_url)", out["webhook_eventbrite"])
            asyncio.run(_load(hook.url, stager[:10], 10.0, 4))
            out["webhook_stager"] = asyncio.run(_load(hook.url, stager[10:], wait, conc))
            _say_load(bench, "webhook Stager", out["webhook_stager"])
            hook.check()
            out["webhook_eventbrite"]["fetches"] = len(api.requests)
    return out


# -- DIP ---------------------------------------------------------------------------------
def _dip_id(k: int) -> tuple[str, int]:
    """Production and performance number of the ``k``-th DIP performance (8 per production)."""
    return f"NL-25-{3000 + k // 8:05d}-{(k // 8) % 9 + 1}", k % 8 + 1


def _dip_calls(count: int, perfs: int) -> list[Call]:
    """Cumulative PUTs round after round: capacity first, then tickets, reservations and
    blocked seats in turn, each stamped later than the performance's previous call."""
    base = datetime(2025, 2, 1, 9, 0, tzinfo=UTC)
    out: list[Call] = []
    headers = {"Content-Type": "application/json"}
    for i in range(count):
        k, r = i % perfs, i // perfs
        prod, num = _dip_id(k)
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
        out = asyncio.run(_load(role.url, calls[20:], sizes.max_wait_s, sizes.webhook_concurrency))
        role.check()
        out["rss_mb"] = role.peak_rss_mb()
    _say_load(bench, "DIP receiver (PUT cumulative)", out)
    return out


class _TimedDip(FakeDip):
    """The fake DIP, noting when it served its first request."""

    first_request = 0.0

    def _route(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        self.first_request = self.first_request or time.time()
        return super()._route(path, query)


class _TimedSite(FakeCalendarSite):
    first_request = 0.0

    def handle(self, req: FakeRequest) -> FakeResponse:
        self.first_request = self.first_request or time.time()
        return super().handle(req)


class _TimedUit(FakeUitdatabank):
    first_request = 0.0

    def handle(self, req: FakeRequest) -> FakeResponse:
        self.first_request = self.first_request or time.time()
        return super().handle(req)


# -- publishing subprocesses, timed on Kafka ------------------------------------------
def _published(s: Settings, topics: tuple[str, ...]) -> tuple[int, float, float]:
    """Records on ``topics`` and the Kafka timestamps (epoch s) of the first and last."""
    count, first, last = 0, 0.0, 0.0
    for topic in topics:
        off = Offsets(s, topic_name(topic, s.topic_prefix))
        try:
            ends = off.ends()
            if sum(ends.values()):
                count += sum(ends.values())
                stamps = off.timestamps_at(dict.fromkeys(ends, 0))
                first = min([first or 1e18, *(v / 1000 for v in stamps.values())])
                last = max(last, off.last_timestamp(ends) / 1000)
        finally:
            off.close()
    return count, first, last


def _total(s: Settings, topics: tuple[str, ...]) -> int:
    total = 0
    for topic in topics:
        off = Offsets(s, topic_name(topic, s.topic_prefix))
        try:
            total += off.total()
        finally:
            off.close()
    return total


def _connector_env(bench: Bench, s: Settings) -> dict[str, str]:
    (port,) = free_ports(1)  # pollers serve /metrics: never the default port another process may hold
    return bench.env(s, CULTUURBUS_CONNECTOR__METRICS_PORT=str(port))


def _log(bench: Bench, s: Settings, name: str) -> Path:
    log = bench.state / s.topic_prefix.strip(".") / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    return log


def _until_caught_up(bench: Bench, s: Settings, name: str, argv: list[str], wait_s: float) -> None:
    log = _log(bench, s, name)
    with log.open("ab") as out_log:
        proc = subprocess.run([*bench.python_cli, *argv], env=_connector_env(bench, s), cwd=REPO,
                              stdout=out_log, stderr=subprocess.STDOUT, timeout=wait_s)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed (code {proc.returncode}); see {log}")


def _until_published(bench: Bench, s: Settings, name: str, argv: list[str], topics: tuple[str, ...],
                     expected: int, wait_s: float) -> None:
    """Run a connector that polls forever until ``expected`` records are on ``topics`` (or
    their count stood still for 10 s), then stop it (SIGTERM, by pid)."""
    log = _log(bench, s, name)
    with log.open("ab") as out_log:
        proc = subprocess.Popen([*bench.python_cli, *argv], env=_connector_env(bench, s), cwd=REPO,
                                stdout=out_log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + wait_s
        seen, still_since = -1, time.monotonic()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited (code {proc.returncode}); see {log}")
            got = _total(s, topics)
            if got >= expected:
                return
            if got != seen:
                seen, still_since = got, time.monotonic()
            elif got > 0 and time.monotonic() - still_since > 10:
                return  # the connector is done: fewer than expected (the dead letters say why)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: {got:,} of {expected:,} records after {wait_s:.0f} s; see {log}")
            time.sleep(0.2)
    finally:
        stop_process_group(proc)


def _rate(bench: Bench, s: Settings, kind: str, topic: str, started: float,
          extra: dict[str, Any]) -> dict[str, Any]:
    """Facts on ``topic`` from ``started`` (first request served; 0: the first fact's
    timestamp) to the last fact's Kafka timestamp; dead letters counted apart."""
    facts, first, last = _published(s, (topic,))
    dead = _total(s, (dlq_of(topic),))
    t0 = started or first
    seconds = max(last - t0, 1e-3)
    out = {**extra, "facts": facts, "dead_lettered": dead, "seconds": round(seconds, 3),
           "eps": facts / seconds,
           "timed_from": "first request served" if started else "first fact's Kafka timestamp"}
    bench.say(f"connectors: {kind} {facts:,} facts in {seconds:.2f} s = {out['eps']:,.0f} facts/s"
              + (f" ({dead} dead-lettered)" if dead else ""))
    return out


def _poller(bench: Bench, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("poll")
    fake = FakeTicketmatic(generate_feed(sizes.poller_items, events=20), page_size=100).start()
    try:
        _until_caught_up(bench, s, "eventstream", [
            "connector", "eventstream", "--base-url", fake.base_url, "--account", "acme",
            "--until-caught-up", "--no-metrics"], sizes.max_wait_s)
    finally:
        fake.stop()
    facts, first, last = _published(s, (TICKET_EVENTS, PERFORMANCES))
    seconds = max(last - first, 1e-3)
    out = {"items": sizes.poller_items, "facts": facts, "page_size": 100, "seconds": round(seconds, 2),
           "eps": facts / seconds, "timed_from": "first fact's Kafka timestamp"}
    bench.say(f"connectors: eventstream poller {facts:,} facts in {seconds:.1f} s = "
              f"{out['eps']:,.0f} facts/s")
    return out


def _dip_poller(bench: Bench, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("dipp")
    n = sizes.connector_records
    now = datetime.now(UTC).replace(microsecond=0)
    entries = []
    for k in range(n):
        prod, num = _dip_id(k)
        t = 40 + k % 300
        entries.append(cumulative_entry(prod, num, now - timedelta(minutes=k % 600), normal=(t, t * 2750),
                                        discount=(k % 30, (k % 30) * 2250), free=(k % 4, 0),
                                        reservations=(k % 6, (k % 6) * 2750), blocked=(2, 0),
                                        capacity=400 + 10 * (k % 50)))
    fake = _TimedDip()
    fake.set_cumulative(entries)
    with fake:
        _until_caught_up(bench, s, "dip-poll", ["connector", "dip", "--poll", f"{fake.url}/cumulative",
                                                "--account", "bench", "--until-caught-up", "--no-metrics"],
                         sizes.max_wait_s)
        started = fake.first_request
    return _rate(bench, s, "DIP cumulative poller", SNAPSHOTS, started, {"entries": n})


def _dip_calendar(bench: Bench, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("dipc")
    n = sizes.connector_records
    now = datetime.now(UTC).replace(microsecond=0)
    theaters = [dip_theater(f"T-{t:04d}", f"Schouwburg {t}", f"{1000 + 37 * t} AB", "Utrecht")
                for t in range(20)]
    productions = []
    for p in range(-(-n // 8)):
        prod = dip_production(_dip_id(8 * p)[0], f"Voorstelling {p}", now - timedelta(days=30, minutes=p))
        perfs = [dip_performance(k + 1, now + timedelta(days=3 + 2 * k + p % 90, hours=20),
                                 theater=theaters[(p + k) % len(theaters)],
                                 capacity=400 + 10 * ((p + k) % 50))
                 for k in range(min(8, n - 8 * p))]
        productions.append((prod, perfs))
    fake = _TimedDip(productions, page_size=50)
    with fake:
        _until_caught_up(bench, s, "dip-calendar", ["connector", "dip", "--calendar-url", fake.url,
                                                    "--until-caught-up", "--no-metrics"], sizes.max_wait_s)
        started = fake.first_request
    return _rate(bench, s, "DIP calendar poller", PERFORMANCES, started,
                 {"productions": len(productions), "performances": n})


# -- box-office CSV ----------------------------------------------------------------------
def _csv_rows(ds: Dataset, n: int) -> list[list[str]]:
    """A Dutch export: one row per ticket (mostly sales, some door scans of earlier sales),
    with the personal data box offices export (none of it may reach Kafka)."""
    tz = ZoneInfo("Europe/Amsterdam")
    base = datetime(2025, 3, 1, 9, 0, tzinfo=tz)
    rows, perfs = [], ds.performances
    for i in range(n):
        scan = i % 10 == 9
        j = i - 5 if scan else i
        perf = perfs[j % len(perfs)]
        who = wh.PEOPLE[j % len(wh.PEOPLE)]
        start = perf["start"].astimezone(tz).strftime("%d-%m-%Y %H:%M:%S")
        rows.append([f"B{j // 2:07d}", f"T{j:08d}", f"v-{j % len(perfs):05d}", _dip_value(perf),
                     perf["title"], start, "scan" if scan else "verkoop", "cjp" if j % 4 == 1 else "regulier",
                     "22,50" if j % 4 == 1 else "27,50",
                     (base + timedelta(minutes=i)).strftime("%d-%m-%Y %H:%M:%S"), "kassa",
                     who.customer_id, who.firstname, who.lastname, who.email, who.phone, who.street,
                     who.postcode, who.city, who.country, who.birthdate])
    return rows


def _csv_file(bench: Bench, ds: Dataset, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("csv")
    n = sizes.connector_records
    path = _log(bench, s, "export").with_suffix(".csv")
    warm = path.with_name("warm-up.csv")
    rows = _csv_rows(ds, n + 20)
    for file, part in ((warm, rows[n:]), (path, rows[:n])):
        with file.open("w", encoding="utf-8", newline="") as f:
            w = csv.writer(f, delimiter=";", lineterminator="\r\n")
            w.writerow(BOXOFFICE_HEADER)
            w.writerows(part)
    ctx = ConnectorContext(s, "file", serve_metrics=False).open()  # as ``cultuurbus connector file``
    try:
        env = RowEnv("bench-venue", ctx.pseudonymiser, ZoneInfo("Europe/Amsterdam"), "EUR", {})
        importer = CsvImporter(ctx.publisher, ctx.positions, env, batch_size=1000, progress=False)
        warmed = importer.import_file(warm)  # schema, producer and positions warm: not the import's rate
        t0 = time.perf_counter()
        first = importer.import_file(path)
        t1 = time.perf_counter()
        again = importer.import_file(path)  # recognised as imported before: nothing published
        t2 = time.perf_counter()
    finally:
        ctx.close()
    # and again as a user would: ``cultuurbus connector file`` once more, a new process
    t3 = time.perf_counter()
    cli = subprocess.run([*bench.python_cli, "connector", "file", "--venue", "bench-venue", "--no-progress",
                          str(path)], env=_connector_env(bench, s), cwd=REPO, capture_output=True, text=True,
                         timeout=sizes.max_wait_s)
    cli_s = time.perf_counter() - t3
    if cli.returncode != 0:
        raise RuntimeError(f"cultuurbus connector file failed (code {cli.returncode}): {cli.stderr[-500:]}")
    on_kafka = _total(s, (TICKET_EVENTS,)) - warmed.published
    if first.published != on_kafka:
        raise RuntimeError(f"CSV import: {first.published} published, {on_kafka} on Kafka")
    out = {"rows": n, "facts": first.published, "dead_lettered": first.dead_lettered,
           "seconds": round(t1 - t0, 3), "eps": first.published / max(t1 - t0, 1e-3),
           "importer_seconds": round(first.seconds, 3),
           "file_bytes": path.stat().st_size, "timed_from": "the import_file call (in process)",
           "second_import": {"published": again.published, "skipped": again.skipped,
                             "whole_file_skipped": again.whole_file_skipped,
                             "seconds": round(t2 - t1, 4)},
           "second_import_cli": {"line": cli.stdout.strip()[-300:], "seconds": round(cli_s, 2)}}
    bench.say(f"connectors: CSV import {first.published:,} facts in {t1 - t0:.2f} s = "
              f"{out['eps']:,.0f} facts/s; the same file again: {again.published} published in "
              f"{1000 * (t2 - t1):.1f} ms in process, {cli_s:.1f} s as a new `cultuurbus connector file`")
    return out


# -- calendars -------------------------------------------------------------------------
def _uitdatabank(bench: Bench, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("uit")
    n = sizes.connector_records
    events = -(-n // 4)
    fake = _TimedUit(client_id="bench-client")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for e in range(events):
        subs = min(4, n - 4 * e)
        starts = [now + timedelta(days=5 + e % 120 + 7 * k, hours=20) for k in range(subs)]
        fake.add(uit_event(e, starts=starts, modified=fake.tick()))
    with fake:
        argv = ["connector", "uitdatabank", "--base-url", fake.url, "--client-id", "bench-client",
                "--settle-seconds", "1"]
        _until_published(bench, s, "uitdatabank", argv, (PERFORMANCES,), n, sizes.max_wait_s)
        started = fake.first_request
    return _rate(bench, s, "UiTdatabank Search API poll", PERFORMANCES, started,
                 {"events": events, "performances": n, "page_size": 200})


def _schemaorg(bench: Bench, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("sorg")
    n = sizes.connector_records
    pages = max(1, min(10, n // 50))
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    with _TimedSite() as site:
        urls = []
        for p in range(pages):
            nodes = [theater_event(f"Voorstelling {i}",
                                   (now + timedelta(days=3 + i % 150, hours=19 + i % 3)).isoformat(),
                                   event_id=f"https://theater-{p}.example.nl/agenda/{i}",
                                   capacity=300 + i % 500,
                                   remaining=100 + i % 200, offer_url=f"https://theater-{p}.example.nl/tickets/{i}",
                                   venue=f"Schouwburg {p}")
                     for i in range(p, n, pages)]
            urls.append(site.put(f"/agenda-{p}.html", schemaorg_page(nodes, title=f"Agenda {p}")))
        _until_published(bench, s, "schemaorg", ["connector", "schemaorg", *urls], (PERFORMANCES,), n,
                         sizes.max_wait_s)
        started = site.first_request
    return _rate(bench, s, "schema.org JSON-LD pages", PERFORMANCES, started,
                 {"pages": pages, "performances": n})


def _ical(bench: Bench, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("ical")
    n = sizes.connector_records
    series = -(-n // 10)
    start = datetime.now(UTC) + timedelta(days=7)
    vevents = []
    for i in range(series):
        first = (start + timedelta(days=i % 60)).strftime("%Y%m%dT200000")
        count = min(10, n - 10 * i)
        vevents.append(vevent(f"serie-{i}@theater.example.nl", first, summary=f"Voorstelling {i}",
                              end=(start + timedelta(days=i % 60)).strftime("%Y%m%dT221500"),
                              rrule=f"FREQ=WEEKLY;COUNT={count}", location=f"Zaal {i % 3 + 1}",
                              url=f"https://theater.example.nl/agenda/{i}"))
    with _TimedSite() as site:
        url = site.put("/agenda.ics", ical_feed(vevents), content_type="text/calendar; charset=utf-8")
        argv = ["connector", "ical", url, "--feed-name", "bench", "--venue-name", "Stadsschouwburg Utrecht",
                "--venue-city", "Utrecht"]
        _until_published(bench, s, "ical", argv, (PERFORMANCES,), n, sizes.max_wait_s)
        started = site.first_request
    return _rate(bench, s, "iCalendar feed", PERFORMANCES, started, {"series": series, "performances": n})


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
    out: dict[str, Any] = {"webhook": _webhook(bench, ds, sizes), "poller": _poller(bench, sizes)}
    vendors = _guard(bench, "webhook vendors", lambda: _webhook_vendors(bench, ds, sizes))
    for kind in ("webhook_eventbrite", "webhook_stager"):
        out[kind] = vendors.get(kind, vendors)
    out["dip_receiver"] = _guard(bench, "dip_receiver", lambda: _dip_receiver(bench, sizes))
    out["dip_poller"] = _guard(bench, "dip_poller", lambda: _dip_poller(bench, sizes))
    out["dip_calendar"] = _guard(bench, "dip_calendar", lambda: _dip_calendar(bench, sizes))
    out["csv_file"] = _guard(bench, "csv_file", lambda: _csv_file(bench, ds, sizes))
    out["uitdatabank"] = _guard(bench, "uitdatabank", lambda: _uitdatabank(bench, sizes))
    out["schemaorg"] = _guard(bench, "schemaorg", lambda: _schemaorg(bench, sizes))
    out["ical"] = _guard(bench, "ical", lambda: _ical(bench, sizes))
    out["eps"] = {kind: out[_source(kind)]["eps"] for kind in KINDS if "eps" in out[_source(kind)]}
    return out


def _source(kind: str) -> str:
    return {"webhook_eventix": "webhook", "eventstream": "poller"}.get(kind, kind)

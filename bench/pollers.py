"""Connector publish rates, the pollers and the importer: each connector kind that fetches
(or reads a file) through its real code path against the fakes of ``connectors/fakes``,
timed from the first request the fake served to the Kafka timestamp of the last fact
(see ``bench.connectors``, which runs them beside the receivers)."""

from __future__ import annotations

import csv
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.data import Dataset
from bench.env import Bench
from bench.kafkaio import Offsets
from bench.options import Sizes
from bench.roles import REPO, stop_process_group
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
from connectors.sdk.context import ConnectorContext
from connectors.simulator.drivers.boxoffice import HEADER as BOXOFFICE_HEADER
from connectors.ticketing.csvfile.importer import CsvImporter
from connectors.ticketing.csvfile.mapping import RowEnv
from ops.stack.ports import free_ports

__all__ = ["csv_file", "dip_calendar", "dip_id", "dip_poller", "dip_value", "ical", "poller", "schemaorg",
           "uitdatabank"]


def dip_id(k: int) -> tuple[str, int]:
    """Production and performance number of the ``k``-th DIP performance (8 per production)."""
    return f"NL-25-{3000 + k // 8:05d}-{(k // 8) % 9 + 1}", k % 8 + 1


def dip_value(perf: dict[str, Any]) -> str:
    return str(perf["performance_key"]).split("|", 1)[1]


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


def poller(bench: Bench, sizes: Sizes) -> dict[str, Any]:
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


def dip_poller(bench: Bench, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("dipp")
    n = sizes.connector_records
    now = datetime.now(UTC).replace(microsecond=0)
    entries = []
    for k in range(n):
        prod, num = dip_id(k)
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


def dip_calendar(bench: Bench, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("dipc")
    n = sizes.connector_records
    now = datetime.now(UTC).replace(microsecond=0)
    theaters = [dip_theater(f"T-{t:04d}", f"Schouwburg {t}", f"{1000 + 37 * t} AB", "Utrecht")
                for t in range(20)]
    productions = []
    for p in range(-(-n // 8)):
        prod = dip_production(dip_id(8 * p)[0], f"Voorstelling {p}", now - timedelta(days=30, minutes=p))
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
        rows.append([f"B{j // 2:07d}", f"T{j:08d}", f"v-{j % len(perfs):05d}", dip_value(perf),
                     perf["title"], start, "scan" if scan else "verkoop", "cjp" if j % 4 == 1 else "regulier",
                     "22,50" if j % 4 == 1 else "27,50",
                     (base + timedelta(minutes=i)).strftime("%d-%m-%Y %H:%M:%S"), "kassa",
                     who.customer_id, who.firstname, who.lastname, who.email, who.phone, who.street,
                     who.postcode, who.city, who.country, who.birthdate])
    return rows


def csv_file(bench: Bench, ds: Dataset, sizes: Sizes) -> dict[str, Any]:
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
def uitdatabank(bench: Bench, sizes: Sizes) -> dict[str, Any]:
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


def schemaorg(bench: Bench, sizes: Sizes) -> dict[str, Any]:
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


def ical(bench: Bench, sizes: Sizes) -> dict[str, Any]:
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

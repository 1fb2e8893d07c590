"""The ready reports on a small known dataset, against figures computed here in Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bus.settings import Settings
from schemas.models import Buyer, Performance, SalesSnapshot, SnapshotLine, TicketEvent, Venue
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.reports import audience_report, benchmark_report, sales_report
from sinks.clickhouse.rows import FACT_MAPPERS, Source
from sinks.clickhouse.sink import ClickHouseSink
from tests.support import REPO_ROOT
from tests.support.clickhouse import drop_database
from tests.support.dataset import buyer_hash

pytestmark = pytest.mark.integration

DAY0 = datetime(2025, 6, 1, 20, tzinfo=UTC)
CAPACITY = 100
SIGN = {"SOLD": 1, "CANCELLED": -1, "REFUNDED": -1}


class World:
    """Performances, ticket facts and snapshots, plus the figures they should give."""

    def __init__(self) -> None:
        self.perfs: dict[str, Performance] = {}
        self.facts: list[tuple[str, str, object]] = []
        self.n = 0

    def perf(self, pid: str, genre: str, region: str, venue_id: str, venue_name: str, day: int,
             status: str = "SCHEDULED") -> None:
        p = Performance(fact_id=f"cal-{pid}", event_time=DAY0 - timedelta(days=90),
                        ingested_at=DAY0, source_system="dip", source_account="dip",
                        performance_key=pid, title=f"Show {pid}", genre=genre,
                        venue=Venue(id=venue_id, name=venue_name, city="Stad", region=region),
                        start=DAY0 + timedelta(days=day), capacity=CAPACITY, status=status)
        self.perfs[pid] = p
        self.facts.append(("performance", pid, p))

    def ticket(self, pid: str, kind: str, qty: int, tt: str, price: int, days_before: float,
               buyer: int | None = None, area: str = "3511", source: str = "eventix/acc") -> None:
        self.n += 1
        self.facts.append(("ticket", pid, TicketEvent(
            fact_id=f"t{self.n}", event_type=kind, quantity=qty, ticket_type=tt, price_cents=price,
            event_time=self.perfs[pid].start - timedelta(days=days_before), ingested_at=DAY0,
            source_system=source.split("/")[0], source_account=source.split("/")[1],
            performance_key=pid, channel="web",
            buyer=None if buyer is None else Buyer(id_hash=buyer_hash(buyer), postcode_area=area,
                                                   country="NL", birth_year=1980))))

    def snapshot(self, pid: str, days_before: float, lines: dict[str, tuple[int, int]]) -> None:
        self.n += 1
        self.facts.append(("snapshot", pid, SalesSnapshot(
            fact_id=f"s{self.n}", event_time=self.perfs[pid].start - timedelta(days=days_before),
            ingested_at=DAY0, source_system="dip", source_account="box", performance_key=pid,
            lines=[SnapshotLine(ticket_type=t, tickets=n, revenue_cents=r) for t, (n, r) in lines.items()])))

    # -- expected figures, computed independently of the SQL ----------------------------
    def movements(self) -> list[tuple[str, datetime, str, int, int]]:
        """(pid, time, ticket type, tickets, revenue cents) of every change in net sales."""
        snap_sources = {(pid, m.source_system, m.source_account)
                        for kind, pid, m in self.facts if kind == "snapshot"}
        out = []
        held: dict[tuple[str, str, str], dict[str, tuple[int, int]]] = defaultdict(dict)
        snaps = sorted(((pid, m) for kind, pid, m in self.facts if kind == "snapshot"),
                       key=lambda x: x[1].event_time)
        for pid, m in snaps:
            key = (pid, m.source_system, m.source_account)
            now = {str(line.ticket_type): (line.tickets, line.revenue_cents) for line in m.lines}
            for tt in set(now) | set(held[key]):
                (n1, r1), (n0, r0) = now.get(tt, (0, 0)), held[key].get(tt, (0, 0))
                if (n1, r1) != (n0, r0):
                    out.append((pid, m.event_time, tt, n1 - n0, r1 - r0))
            held[key] = now
        for kind, pid, m in self.facts:
            if kind == "ticket" and str(m.event_type) in SIGN and \
                    (pid, m.source_system, m.source_account) not in snap_sources:
                q = SIGN[str(m.event_type)] * m.quantity
                out.append((pid, m.event_time, str(m.ticket_type), q, q * m.price_cents))
        return out


def build() -> World:
    w = World()
    for i in range(1, 6):  # Toneel in Utrecht: five venues
        w.perf(f"T{i}", "Toneel", "Utrecht", f"vt{i}", f"Zaal {i}", day=i)
        w.ticket(f"T{i}", "SOLD", 10 * i, "NORMAL", 2000, days_before=10 * i)
        w.ticket(f"T{i}", "SOLD", 5, "DISCOUNT", 1000, days_before=2)
        w.ticket(f"T{i}", "RESERVED", 3, "NORMAL", 2000, days_before=1)
    w.ticket("T1", "REFUNDED", 2, "NORMAL", 2000, days_before=0.5)
    w.ticket("T1", "SOLD", 2, "NORMAL", 2000, days_before=45, buyer=1)
    w.ticket("T2", "SOLD", 1, "NORMAL", 2000, days_before=3, buyer=1)
    w.ticket("T2", "SOLD", 2, "DISCOUNT", 1000, days_before=3, buyer=2)
    w.ticket("T3", "SOLD", 1, "NORMAL", 2000, days_before=3, buyer=3, area="6811")
    w.ticket("T4", "SOLD", 1, "NORMAL", 2000, days_before=3, buyer=3, area="6811")
    w.perf("TX", "Toneel", "Utrecht", "vt1", "Zaal 1", day=9, status="CANCELLED")
    w.ticket("TX", "SOLD", 50, "NORMAL", 2000, days_before=20)
    # one performance reported by cumulative snapshots (its own ticket events are ignored)
    w.perf("S", "Toneel", "Utrecht", "vt3", "Zaal 3", day=7)
    w.snapshot("S", 30, {"NORMAL": (10, 20_000), "DISCOUNT": (4, 4_000)})
    w.snapshot("S", 5, {"NORMAL": (25, 50_000)})
    w.ticket("S", "SOLD", 99, "NORMAL", 2000, days_before=6, source="dip/box")  # counted by snapshots
    w.ticket("S", "SOLD", 3, "NORMAL", 2000, days_before=1)                 # another source: counts
    # Opera in Gelderland: four venues (a fifth id shares a name and city with the first)
    for i in range(1, 5):
        w.perf(f"O{i}", "Opera", "Gelderland", f"vo{i}", f"Opera {i}", day=5 + i)
        w.ticket(f"O{i}", "SOLD", 20, "NORMAL", 5000, days_before=20)
    w.perf("O5", "Opera", "Gelderland", "vo-other-id", "Opera 1", day=11)
    w.ticket("O5", "SOLD", 20, "NORMAL", 5000, days_before=20)
    w.ticket("O1", "SOLD", 1, "NORMAL", 5000, days_before=1, buyer=1)
    # an audience large enough to show: 12 buyers from 1012 at T5 who return for O2, and 10
    # from 2000 at T4 once (buyers 1-3 above are too few to show on their own)
    for b in range(100, 112):
        w.ticket("T5", "SOLD", 1, "NORMAL", 2000, days_before=4, buyer=b, area="1012")
        w.ticket("O2", "SOLD", 1, "NORMAL", 5000, days_before=4, buyer=b, area="1012")
    for b in range(200, 210):
        w.ticket("T4", "SOLD", 1, "NORMAL", 2000, days_before=4, buyer=b, area="2000")
    return w


@pytest.fixture(scope="module")
def loaded(topics: Settings) -> Iterator[tuple[World, Settings]]:
    s = topics.model_copy(update={"clickhouse": topics.clickhouse.model_copy(
        update={"database": f"reports_{uuid.uuid4().hex[:8]}"})})
    w = build()
    client = connect_clickhouse(s.clickhouse)
    migrate(client)
    sink = ClickHouseSink(s)
    sink.client = client
    b = Batch()
    for i, (kind, pid, model) in enumerate(w.facts):
        b.mark("facts", 0, i)
        b.add(FACT_MAPPERS[kind](model.to_avro(), Source(pid, 0, i)))  # type: ignore[attr-defined]
    sink.write(b)
    client.close()
    yield w, s
    drop_database(s)


def _by(table, key: str) -> dict:  # type: ignore[no-untyped-def]
    return {r[key]: r for r in table.records()}


def test_sales_monitor_gives_occupancy_revenue_per_type_and_the_curve(loaded) -> None:  # type: ignore[no-untyped-def]
    w, s = loaded
    client = connect_clickhouse(s.clickhouse)
    occupancy, types, curve = sales_report(client)
    moves = w.movements()
    sold: dict[str, int] = defaultdict(int)
    revenue: dict[tuple[str, str], int] = defaultdict(int)
    for pid, _, tt, n, r in moves:
        sold[pid] += n
        revenue[(pid, tt)] += r
    rows = _by(occupancy, "performance_id")
    assert set(rows) == set(w.perfs)
    for pid in w.perfs:
        assert rows[pid]["sold"] == sold[pid], pid
        assert rows[pid]["occupancy_pct"] == pytest.approx(100 * sold[pid] / CAPACITY, abs=0.051), pid
    assert rows["S"]["sold"] == 25 + 3  # latest snapshot NORMAL 25 (DISCOUNT dropped to 0) + 3
    got_types = {(r["performance_id"], r["ticket_type"]): r for r in types.records()}
    for (pid, tt), cents in revenue.items():
        assert got_types[(pid, tt)]["revenue_eur"] == pytest.approx(cents / 100, abs=0.006), (pid, tt)
    points = _by(curve, "performance_id")
    for pid in w.perfs:
        final = sold[pid]
        if final <= 0:
            assert pid not in points
            continue
        start = w.perfs[pid].start
        for d in (42, 28, 14, 7, 1, 0):
            by_then = sum(n for p, t, _, n, _ in moves if p == pid and t <= start - timedelta(days=d))
            col = f"D-{d}" if d else "D0"
            assert points[pid][col] == pytest.approx(100 * by_then / final, abs=0.051), (pid, col)
    daily = dict(client.query("SELECT performance_id, sum(tickets) FROM sales_daily "
                              "GROUP BY performance_id").result_rows)
    assert {p: n for p, n in daily.items() if n} == {p: n for p, n in sold.items() if n}
    assert points["T3"]["D-28"] == pytest.approx(100 * 30 / 36, abs=0.051)  # 30 of 30+5+1
    client.close()


def test_audience_monitor_counts_reach_returning_buyers_and_frequency(loaded) -> None:  # type: ignore[no-untyped-def]
    w, s = loaded
    client = connect_clickhouse(s.clickhouse)
    reach, returning, frequency = audience_report(client, top=5)  # default: groups of 10 buyers
    visits: dict[str, set[str]] = defaultdict(set)
    areas: dict[str, set[str]] = defaultdict(set)
    for kind, pid, m in w.facts:
        if kind == "ticket" and str(m.event_type) == "SOLD" and m.buyer is not None:  # type: ignore[attr-defined]
            visits[m.buyer.id_hash].add(pid)  # type: ignore[attr-defined]
            areas[m.buyer.postcode_area].add(m.buyer.id_hash)  # type: ignore[attr-defined]
    sizes = {a: len(b) for a, b in areas.items()}
    assert sizes == {"1012": 12, "2000": 10, "3511": 2, "6811": 1}
    # 3511 and 6811 are too small; 2000 hides with them, or a total would give their 3 away
    assert [(r["postcode_area"], r["buyers"]) for r in reach.records()] == [("1012", 12)]
    assert reach.records()[0]["buyers_share_pct"] == pytest.approx(100 * 12 / len(visits), abs=0.051)
    assert any("suppressed" in n and all(a in n for a in ("2000", "3511", "6811")) for n in reach.notes)
    first = sum(1 for _ in visits)
    again = sum(len(p) - 1 for p in visits.values())  # every visit after a buyer's first
    got = _by(returning, "visit")
    assert (got["first-time"]["visits"], got["returning"]["visits"]) == (first, again) == (25, 15)
    assert got["returning"]["buyers"] == sum(1 for p in visits.values() if len(p) > 1) == 14
    hist: dict[str, int] = defaultdict(int)
    for p in visits.values():
        hist[str(min(len(p), 5)) if len(p) < 5 else "5+"] += 1
    assert hist == {"1": 11, "2": 13, "3": 1}
    # "3" (one buyer) is suppressed, and "1" with it, or 25 - 13 would give it away
    assert {r["performances"]: r["buyers"] for r in frequency.records()} == {"2": 13}
    client.close()


def test_benchmarks_show_groups_of_five_venues_and_suppress_smaller_ones(loaded) -> None:  # type: ignore[no-untyped-def]
    w, s = loaded
    client = connect_clickhouse(s.clickhouse)
    by_genre, by_region = benchmark_report(client)
    live = {pid for pid, p in w.perfs.items() if str(p.status) != "CANCELLED" and p.genre == "Toneel"}
    moves = [m for m in w.movements() if m[0] in live]
    tickets = sum(m[3] for m in moves)
    cents = sum(m[4] for m in moves)
    discount = sum(m[3] for m in moves if m[2] == "DISCOUNT")
    for table, name in ((by_genre, "Toneel"), (by_region, "Utrecht")):
        rows = table.records()
        assert [r[table.columns[0]] for r in rows] == [name], table
        r = rows[0]
        assert (r["venues"], r["performances"]) == (5, len(live))
        assert r["occupancy_pct"] == pytest.approx(100 * tickets / (CAPACITY * len(live)), abs=0.051)
        assert r["avg_price_eur"] == pytest.approx(cents / tickets / 100, abs=0.006)
        assert r["discount_share_pct"] == pytest.approx(100 * discount / tickets, abs=0.051)
    assert any("suppressed" in n and "Opera" in n for n in by_genre.notes)
    assert any("suppressed" in n and "Gelderland" in n for n in by_region.notes)
    assert "Opera" not in json.dumps([r for r in by_genre.records()], default=str)
    client.close()


def test_report_cli_prints_json_and_aligned_tables(loaded) -> None:  # type: ignore[no-untyped-def]
    _, s = loaded
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
    env.update({"CULTUURBUS_CLICKHOUSE__URL": s.clickhouse.url, "PYTHONPATH": str(REPO_ROOT),
                "CULTUURBUS_CLICKHOUSE__DATABASE": s.clickhouse.database,
                "CULTUURBUS_CONFIG_FILE": os.devnull})

    def run(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "sinks.clickhouse", "report", *args], env=env,
                             cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
        assert out.returncode == 0, out.stderr[-2000:]
        return out.stdout

    doc = json.loads(run("benchmark", "--operator", "--by", "genre", "--format", "json"))
    assert [r["genre"] for r in doc["by_genre"]["rows"]] == ["Toneel"]
    text = run("sales", "--operator", "--performance", "T3")
    assert "== occupancy ==" in text and "T3" in text and "T1 " not in text
    assert run("audience", "--operator", "--format", "csv").startswith(
        "# reach\ncountry,postcode_area,buyers")

"""Scoped reports against the real ClickHouse and Kafka: a venue sees its own performances
(also those listed under a venue id the crosswalk links to it), a producer its production
at two venues, nobody a comparison over four venues, no audience group of fewer buyers
than the threshold; the report commands refuse unknown, revoked and app tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bus.directory import write_tenant
from bus.kafka import kafka_env
from bus.settings import Settings
from bus.tenants import Tenant, hash_token
from schemas.models import Buyer, Performance, TicketEvent, TicketEventType, TicketType, Venue
from schemas.venue import VenueLink
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.reports import audience_report, benchmark_report, sales_report
from sinks.clickhouse.rows import FACT_MAPPERS, Source, venue_link_row
from sinks.clickhouse.scope import OPERATOR, scope_for
from sinks.clickhouse.sink import ClickHouseSink
from tests.support import REPO_ROOT
from tests.support.clickhouse import drop_database, fresh_settings
from tests.support.dataset import buyer_hash

pytestmark = pytest.mark.integration

DAY0 = datetime(2026, 3, 1, 20, tzinfo=UTC)
HOME = "dip:theater:10"          # the venue tenant's registered id
HOME_ALIAS = "tm:acc:location:7"  # the same venue in a vendor's system (crosswalk link)
#: performance -> (venue id, venue name, production, genre)
PERFS = {
    "A1": (HOME, "Stadsschouwburg", "", "Toneel"),
    "A2": (HOME_ALIAS, "Grote Zaal", "", "Toneel"),
    "A3": (HOME, "Stadsschouwburg", "DIP-P1", "Toneel"),
    "B1": ("dip:theater:20", "Philharmonie", "DIP-P1", "Toneel"),
    "C1": ("dip:theater:30", "Chassé", "", "Toneel"),
    "D1": ("dip:theater:50", "De Doelen", "", "Toneel"),
    "E1": ("dip:theater:60", "Theater Elckerlyc", "", "Toneel"),
    **{f"O{i}": (f"dip:theater:4{i}", f"Opera {i}", "", "Opera") for i in range(1, 5)},
}
VENUE = Tenant("stadsschouwburg", "venue", venues=(HOME,))
PRODUCER = Tenant("gezelschap", "producer", productions=("DIP-P1",))
ANALYST = Tenant("sectorbureau", "analyst")
#: postcode area -> (performance, buyers): 1012 is large enough, 3511 and 6811 are not (but
#: hold 10 together, so 1012 needs no protection); 9000 buys at another venue
AUDIENCE = {"1012": ("A1", 12), "3511": ("A1", 4), "6811": ("A2", 6), "9000": ("C1", 30)}


def _rows() -> list:  # type: ignore[type-arg]
    rows, n = [], 0

    def add(mapper: str, model: object, key: str) -> None:
        nonlocal n
        n += 1
        rows.append(FACT_MAPPERS[mapper](model.to_avro(), Source(key, 0, n)))  # type: ignore[attr-defined]

    for i, (pid, (vid, name, prod, genre)) in enumerate(PERFS.items()):
        add("performance", Performance(
            fact_id=f"cal-{pid}", event_time=DAY0 - timedelta(days=60), ingested_at=DAY0,
            source_system="dip", source_account="dip", performance_key=pid, production_id=prod or None,
            title=f"Show {pid}", genre=genre, venue=Venue(id=vid, name=name, city="Stad", region="Utrecht"),
            start=DAY0 + timedelta(days=i), capacity=200), pid)
        add("ticket", _sale(pid, f"t-{pid}", 10 + i), pid)
    buyer = 0
    for area, (pid, count) in AUDIENCE.items():
        for _ in range(count):
            buyer += 1
            add("ticket", _sale(pid, f"b{buyer}", 1, Buyer(id_hash=buyer_hash(buyer), postcode_area=area,
                                                           country="NL", birth_year=1990)), pid)
    link = VenueLink(venue_id=HOME_ALIAS, canonical_id=HOME, reason="person", name="Grote Zaal",
                     updated_at=DAY0)
    rows.append(venue_link_row(link.to_avro(), Source(HOME_ALIAS, 0, n + 1)))
    return rows


def _sale(pid: str, fact_id: str, qty: int, buyer: Buyer | None = None) -> TicketEvent:
    return TicketEvent(fact_id=fact_id, event_type=TicketEventType.SOLD, quantity=qty,
                       ticket_type=TicketType.NORMAL,
                       price_cents=2500, event_time=DAY0 - timedelta(days=10), ingested_at=DAY0,
                       source_system="eventix", source_account="acc", performance_key=pid,
                       channel="web", buyer=buyer)


@pytest.fixture(scope="module")
def loaded(topics: Settings) -> Iterator[Settings]:
    s = fresh_settings(topics, "scoped")
    client = connect_clickhouse(s.clickhouse)
    migrate(client)
    sink = ClickHouseSink(s)
    sink.client = client
    b = Batch()
    for i, row in enumerate(_rows()):
        b.mark("t", 0, i)
        b.add(row)
    sink.write(b)
    client.close()
    yield s
    drop_database(s)


@pytest.fixture
def client(loaded: Settings) -> Iterator[Any]:
    c = connect_clickhouse(loaded.clickhouse)
    yield c
    c.close()


def _pids(tables) -> set[str]:  # type: ignore[no-untyped-def]
    return {r["performance_id"] for t in tables for r in t.records()}


def test_a_venue_sees_its_own_performances_also_under_a_linked_id_and_no_other(client: Any) -> None:
    venue = scope_for(VENUE, "sales")
    mine = sales_report(client, scope=venue)
    assert _pids(mine) == {"A1", "A2", "A3"}
    assert {r["venue"] for r in mine[0].records()} == {"Stadsschouwburg", "Grote Zaal"}
    assert _pids(sales_report(client, scope=OPERATOR)) == set(PERFS)
    # another venue's performance id: nothing, exactly as for an id that does not exist
    for pid in ("C1", "no-such-performance"):
        assert all(t.rows == [] for t in sales_report(client, scope=venue, performance_id=pid))
        assert all(t.rows == [] for t in audience_report(client, scope=scope_for(VENUE, "audience"),
                                                         performance_id=pid))


def test_a_producer_sees_its_production_at_two_venues(client: Any) -> None:
    occupancy = sales_report(client, scope=scope_for(PRODUCER, "sales"))[0]
    assert {(r["performance_id"], r["venue"]) for r in occupancy.records()} == {
        ("A3", "Stadsschouwburg"), ("B1", "Philharmonie")}


def test_a_comparison_over_four_venues_is_withheld_for_every_caller(client: Any) -> None:
    callers = [OPERATOR, *(scope_for(t, "benchmark") for t in (VENUE, PRODUCER, ANALYST))]
    for scope in callers:
        by_genre = benchmark_report(client, scope=scope, by=["genre"])[0]
        rows = by_genre.records()
        assert [(r["genre"], r["venues"]) for r in rows] == [("Toneel", 5)], scope.caller
        assert any("suppressed" in n and "Opera" in n for n in by_genre.notes), scope.caller
        assert "Opera" not in json.dumps(rows, default=str)


def test_an_audience_group_smaller_than_the_threshold_is_not_shown(client: Any) -> None:
    reach = audience_report(client, scope=scope_for(VENUE, "audience"))[0]
    assert [(r["postcode_area"], r["buyers"]) for r in reach.records()] == [("1012", 12)]
    assert any("suppressed" in n and "3511" in n and "6811" in n for n in reach.notes)
    everyone = audience_report(client, scope=scope_for(ANALYST, "audience"))[0]
    assert [(r["postcode_area"], r["buyers"]) for r in everyone.records()] == [("9000", 30), ("1012", 12)]
    stricter = audience_report(client, scope=OPERATOR, min_buyers=13)[0]
    assert [r["postcode_area"] for r in stricter.records()] == ["9000"]
    with pytest.raises(ValueError, match="at least 5"):
        audience_report(client, scope=OPERATOR, min_buyers=4)


# -- the report commands: who is asking -----------------------------------------------------
TOKENS = {"venue": "tok-venue-0123456789", "app": "tok-app-0123456789",
          "revoked": "tok-revoked-0123456789", "analyst": "tok-analyst-0123456789"}


@pytest.fixture(scope="module")
def tenants(loaded: Settings) -> Settings:
    for tenant, token in ((VENUE, TOKENS["venue"]), (Tenant("board-app", "app"), TOKENS["app"]),
                          (Tenant("oud-theater", "venue", venues=("dip:theater:30",), revoked=True),
                           TOKENS["revoked"]), (ANALYST, TOKENS["analyst"])):
        write_tenant(loaded.kafka, loaded.topic_prefix, tenant.changed(token_sha256=hash_token(token)))
    return loaded


def _report(s: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
    base.update({**kafka_env(s.kafka), "CULTUURBUS_CLICKHOUSE__URL": s.clickhouse.url,
                 "CULTUURBUS_CLICKHOUSE__DATABASE": s.clickhouse.database,
                 "CULTUURBUS_TOPIC_PREFIX": s.topic_prefix, "CULTUURBUS_CONFIG_FILE": os.devnull,
                 "PYTHONPATH": str(REPO_ROOT), **env})
    return subprocess.run([sys.executable, "-m", "sinks.clickhouse", "report", *args], env=base,
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_the_sales_command_shows_a_venue_token_its_own_rows_only(tenants: Settings) -> None:
    out = _report(tenants, "sales", "--format", "json", CULTUURBUS_REPORT__TOKEN=TOKENS["venue"])
    assert out.returncode == 0, out.stderr[-2000:]
    doc = json.loads(out.stdout)
    assert {r["performance_id"] for r in doc["occupancy"]["rows"]} == {"A1", "A2", "A3"}


@pytest.mark.parametrize(("token", "said"), [
    ("not-a-token-of-anyone", "unknown or revoked"),
    (TOKENS["revoked"], "unknown or revoked"),
    (TOKENS["app"], "apps read availability and last-minute offers only"),
    (TOKENS["analyst"], "sector-aggregated figures only"),
    ("", "needs the caller's API token"),
])
def test_the_sales_command_refuses_without_a_token_that_may_see_sales(tenants: Settings, token: str,
                                                                      said: str) -> None:
    out = _report(tenants, "sales", *(("--token", token) if token else ()))
    assert out.returncode == 1, out.stdout[-2000:]
    assert said in out.stderr and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert out.stdout == ""  # no data, not even an empty table

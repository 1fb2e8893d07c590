"""The ClickHouse sink against real Kafka, the registry and the ClickHouse server."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, FACTS, dlq_of
from schemas.models import Attendance
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.decode import DERIVED_TOPICS
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.rows import FACT_MAPPERS, Source
from sinks.clickhouse.sink import ClickHouseSink
from tests.support import REPO_ROOT
from tests.support.clickhouse import caught_up, fresh_settings, sink_topics
from tests.support.dataset import make_dataset, produce_dataset
from tests.support.topics import read_all
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def _scalar(client, sql: str):  # type: ignore[no-untyped-def]
    return client.query(sql).result_rows[0][0]


def test_sink_writes_every_produced_record_once_and_dead_letters_bad_ones(
        topics: Settings, registry: Registry, cleanup: list[Settings]) -> None:
    s = fresh_settings(topics, "ck", batch_max_rows=150, batch_max_seconds=0.5)
    cleanup.append(s)
    ds = make_dataset(performances=12, tickets=400)
    wrong_schema = AvroSerializer(registry, s.topic_prefix + "elsewhere", "attendance.avsc")
    attendance = Attendance(performance_id="p", updated_at=datetime(2025, 1, 1, tzinfo=UTC))
    bad = [
        (FACTS, b"p", b"\x00\x00"),                                          # too short
        (FACTS, b"p", b"plain text, not Avro"),                              # wrong magic byte
        (FACTS, b"p", b"\x00" + struct.pack(">I", 987_654_321) + b"junk"),  # unknown schema id
        (AVAILABILITY, b"p", b"\x07garbage"),
        (AVAILABILITY, b"p", wrong_schema(attendance)),                     # another record type
    ]
    produce_dataset(s, registry, ds, extra_raw=bad)
    metrics = CollectorRegistry()
    sink = ClickHouseSink(s, registry=metrics)
    sink.setup()
    worker = threading.Thread(target=sink.run, daemon=True)
    worker.start()
    try:
        assert wait_until(lambda: caught_up(s, sink_topics(s)), 180, 1.0), "sink did not catch up"
    finally:
        sink.stop()
        worker.join(60)
    assert not worker.is_alive()

    tickets = ds.of("ticket")
    client = connect_clickhouse(s.clickhouse)
    assert _scalar(client, "SELECT count() FROM ticket_facts") == len(tickets)
    assert _scalar(client, "SELECT uniqExact(fact_id) FROM ticket_facts FINAL") == len(tickets)
    assert _scalar(client, "SELECT sum(quantity) FROM ticket_facts FINAL") == sum(t.quantity for t in tickets)
    assert _scalar(client, "SELECT sum(quantity * price_cents) FROM ticket_facts FINAL") == \
        sum(t.quantity * t.price_cents for t in tickets)
    by_type = dict(client.query("SELECT event_type, count() FROM ticket_facts GROUP BY event_type").result_rows)
    assert by_type == dict(Counter(str(t.event_type) for t in tickets))
    assert _scalar(client, "SELECT count() FROM performances FINAL") == 12
    assert _scalar(client, "SELECT count() FROM sales_snapshots FINAL") == len(ds.of("snapshot"))
    assert _scalar(client, "SELECT count() FROM availability_history") == 36
    assert client.query("SELECT count(), min(version) FROM availability_current FINAL").result_rows == [(12, 3)]
    assert _scalar(client, "SELECT count() FROM attendance FINAL") == 12
    assert _scalar(client, "SELECT count() FROM sales_windows FINAL") == 12
    assert _scalar(client, "SELECT count() FROM identity_links FINAL") == 12
    assert client.query("SELECT countIf(withdrawn = 0), countIf(withdrawn = 1) "
                        "FROM lastminute_offers FINAL").result_rows == [(2, 2)]
    # nothing personal beyond pseudonyms: the HMAC, a 4-digit area, a country and a year
    assert _scalar(client, "SELECT countIf(NOT match(buyer_id_hash, '^[0-9a-f]{64}$') "
                           "OR NOT match(postcode_area, '^[0-9]{4}$')) FROM ticket_facts") == 0

    facts_dlq = read_all(s, dlq_of(FACTS))
    avail_dlq = read_all(s, dlq_of(AVAILABILITY))
    assert sorted(m.value() for m in facts_dlq) == sorted(v for t, _, v in bad if t == FACTS)
    assert sorted(m.value() for m in avail_dlq) == sorted(v for t, _, v in bad if t == AVAILABILITY)
    for m in facts_dlq + avail_dlq:
        h = dict(m.headers())
        assert h["errors.stage"] == b"deserialize"
        assert h["errors.topic"].decode().startswith(s.topic_prefix)
        assert h["errors.exception.message"]
    assert metrics.get_sample_value("cultuurbus_sink_rows_written_total",
                                    {"table": "ticket_facts"}) == len(tickets)
    assert metrics.get_sample_value("cultuurbus_sink_dlq_records_total",
                                    {"topic": FACTS, "stage": "deserialize"}) == 3
    assert metrics.get_sample_value("cultuurbus_sink_event_age_seconds_count",
                                    {"table": "ticket_facts"}) == len(tickets)
    assert metrics.get_sample_value("cultuurbus_sink_commits_total") >= 1
    client.close()


@contextmanager
def _sink_running(s: Settings) -> Iterator[tuple[CollectorRegistry, Any]]:
    """A sink on ``s`` running in a thread: its metrics and a ClickHouse client; stopped after."""
    metrics = CollectorRegistry()
    sink = ClickHouseSink(s, registry=metrics)
    sink.setup()
    worker = threading.Thread(target=sink.run, daemon=True)
    worker.start()
    client = connect_clickhouse(s.clickhouse)
    try:
        yield metrics, client
        assert worker.is_alive()
    finally:
        sink.stop()
        worker.join(60)
        client.close()


def test_the_tail_of_a_catch_up_is_written_without_waiting_for_the_timer(
        topics: Settings, registry: Registry, cleanup: list[Settings]) -> None:
    """A backlog of one full batch (30 ticket rows) and a tail: once the sink has read
    everything, the tail is in ClickHouse long before batch_max_seconds (120 s)."""
    s = fresh_settings(topics, "cktail", batch_max_rows=30, batch_max_seconds=120)
    cleanup.append(s)
    produce_dataset(s, registry, make_dataset(performances=12, tickets=40))
    with _sink_running(s) as (metrics, client):
        assert wait_until(lambda: _scalar(client, "SELECT count() FROM ticket_facts") == 40, 30, 0.2), \
            "the tail was not written within 30 s (batch_max_seconds is 120)"
        assert wait_until(lambda: caught_up(s, sink_topics(s)), 10, 0.2), "its offsets are committed too"
        assert metrics.get_sample_value("cultuurbus_sink_commits_total") >= 2


def test_a_trickle_is_written_by_the_timer_not_record_by_record(
        topics: Settings, registry: Registry, cleanup: list[Settings]) -> None:
    """No backlog, a few records at a time: the sink is drained after every read, yet
    writes one batch per batch_max_seconds (ClickHouse wants few inserts), not one per read."""
    s = fresh_settings(topics, "cktrickle", batch_max_rows=5000, batch_max_seconds=3)
    cleanup.append(s)
    with _sink_running(s) as (metrics, client):
        # the sink has its partitions (and an empty batch) once the first group is written
        produce_dataset(s, registry, make_dataset(seed=0, performances=2, tickets=5))
        assert wait_until(lambda: _scalar(client, "SELECT count() FROM ticket_facts") == 5, 30, 0.2)
        before = metrics.get_sample_value("cultuurbus_sink_commits_total")
        for seed in range(1, 7):  # six small groups of records, a quarter of a second apart
            produce_dataset(s, registry, make_dataset(seed=seed, performances=2, tickets=5))
            time.sleep(0.25)
        assert wait_until(lambda: _scalar(client, "SELECT count() FROM ticket_facts") == 35, 30, 0.2)
        assert metrics.get_sample_value("cultuurbus_sink_commits_total") - before <= 2


def _batch_of(ds, first_offset: int = 0) -> Batch:  # type: ignore[no-untyped-def]
    b = Batch()
    for i, (kind, pid, model) in enumerate(ds.facts, first_offset):
        b.mark("facts", 0, i)
        b.add(FACT_MAPPERS[kind](model.to_avro(), Source(pid, 0, i)))
    for i, (topic, key, model) in enumerate(ds.derived, first_offset):
        b.mark(topic, 0, i)
        b.add(DERIVED_TOPICS[topic][1](None if model is None else model.to_avro(), Source(key, 0, i, 1)))
    return b


_COUNTS = ("SELECT (SELECT count() FROM ticket_facts), (SELECT count() FROM ticket_facts FINAL), "
           "(SELECT count() FROM availability_current), (SELECT count() FROM sales_snapshots)")


def test_the_same_batch_written_twice_adds_no_rows_on_the_server(topics: Settings,
                                                               cleanup: list[Settings]) -> None:
    """A crash after the insert and before the offset commit re-delivers the same batch."""
    s = topics.model_copy(update={"clickhouse": topics.clickhouse.model_copy(
        update={"database": f"twice_{uuid.uuid4().hex[:8]}"})})
    cleanup.append(s)
    client = connect_clickhouse(s.clickhouse)
    migrate(client)
    sink = ClickHouseSink(s)
    sink.client = client
    ds = make_dataset(performances=6, tickets=120)
    n = len(ds.of("ticket"))
    sink.write(_batch_of(ds))
    once = client.query(_COUNTS).result_rows[0]
    sink.write(_batch_of(ds))  # redelivered: same offsets, same tokens
    # (availability_current holds one row per performance: a replacing engine collapses an
    # inserted block's versions already on insert)
    assert client.query(_COUNTS).result_rows[0] == once == (n, n, 6, len(ds.of("snapshot")))
    # the streams forwarding the same facts again (new offsets): replacing engine keeps one
    sink.write(_batch_of(ds, first_offset=10_000))
    assert _scalar(client, "SELECT count() FROM ticket_facts FINAL") == n
    assert _scalar(client, "SELECT sum(quantity) FROM ticket_facts FINAL") == \
        sum(t.quantity for t in ds.of("ticket"))
    client.close()


_CHDB_TWICE = """
import json
import sys
from bus.settings import Settings
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.sink import ClickHouseSink
from tests.support.dataset import make_dataset
sys.path.insert(0, sys.argv[2])
from test_clickhouse_sink import _batch_of, _COUNTS
s = Settings(clickhouse={"url": sys.argv[1], "database": "twice"})
client = connect_clickhouse(s.clickhouse)
migrate(client)
sink = ClickHouseSink(s)
sink.client = client
ds = make_dataset(performances=6, tickets=120)
sink.write(_batch_of(ds))
once = client.query(_COUNTS).result_rows[0]
sink.write(_batch_of(ds))
twice = client.query(_COUNTS).result_rows[0]
print(json.dumps({"n": len(ds.of("ticket")), "once": list(once), "twice": list(twice)}))
"""


def test_the_same_batch_written_twice_adds_no_rows_in_embedded_chdb(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CHDB_TWICE, f"chdb://{tmp_path}/ch", str(Path(__file__).parent)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=240, check=False,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin", "CULTUURBUS_CONFIG_FILE": "/dev/null"})
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["once"] == got["twice"], got
    assert got["once"][:3] == [got["n"], got["n"], 6], got

"""Rows per second into ClickHouse: the sink (Kafka -> decode -> batch -> insert -> commit)
against a raw column-oriented ``client.insert`` of the same rows. Measures, never asserts
a speed; run with ``-s`` to see the figures (``CULTUURBUS_BENCH_ROWS`` changes the size).
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from bus.kafka import make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import FACTS, TICKET_EVENTS
from schemas.models import Buyer, TicketEvent
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.rows import COLUMNS, Source, ticket_row
from sinks.clickhouse.sink import ClickHouseSink
from tests.support.clickhouse import fresh_settings
from tests.support.dataset import buyer_hash
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


ROWS = int(os.environ.get("CULTUURBUS_BENCH_ROWS", "100000"))


def _facts(n: int) -> list[tuple[str, TicketEvent]]:
    t0 = datetime(2025, 5, 1, tzinfo=UTC)
    return [(f"dip|NL-25-{i % 200}-1|1", TicketEvent(
        fact_id=f"bench-{i}", event_type="SOLD", event_time=t0 + timedelta(seconds=i), ingested_at=t0,
        source_system="eventix", source_account="a", performance_key=f"vendor:eventix:a|{i % 200}",
        quantity=1 + i % 4, ticket_type="DISCOUNT" if i % 4 == 0 else "NORMAL", price_cents=2500,
        channel="web", buyer=Buyer(id_hash=buyer_hash(i % 5000), postcode_area=f"{1000 + i % 900}",
                                   country="NL", birth_year=1950 + i % 50))) for i in range(n)]


def test_sink_rows_per_second_against_a_raw_insert(topics: Settings, registry: Registry,
                                                   cleanup: list[Settings]) -> None:
    s = fresh_settings(topics, "bench")
    cleanup.append(s)
    facts = _facts(ROWS)
    ser = AvroSerializer(registry, s.topic_prefix + TICKET_EVENTS, "ticket_event.avsc")
    producer = make_producer(s.kafka, linger_ms=50)
    for pid, fact in facts:
        while True:
            try:
                producer.produce(s.topic_prefix + FACTS, key=pid, value=ser(fact),
                                 headers=[("cultuurbus.kind", b"ticket")])
                break
            except BufferError:
                producer.poll(0.1)
    assert producer.flush(120) == 0

    metrics = CollectorRegistry()
    sink = ClickHouseSink(s, registry=metrics, with_unmatched=False)
    sink.setup()
    worker = threading.Thread(target=sink.run, daemon=True)
    worker.start()

    def sample(name: str, labels: dict[str, str] | None = None) -> float:
        return metrics.get_sample_value(name, labels or {}) or 0.0

    try:
        assert wait_until(lambda: sample("cultuurbus_sink_records_in_total", {"topic": FACTS}) > 0, 120, 0.05)
        started = time.perf_counter()
        assert wait_until(lambda: sample("cultuurbus_sink_rows_written_total",
                                         {"table": "ticket_facts"}) >= ROWS, 600, 0.05)
        sink_s = time.perf_counter() - started
    finally:
        sink.stop()
        worker.join(60)
    insert_s = sample("cultuurbus_sink_insert_seconds_sum", {"table": "ticket_facts"})
    inserts = sample("cultuurbus_sink_insert_seconds_count", {"table": "ticket_facts"})
    flush_s = sample("cultuurbus_sink_flush_seconds_sum")
    batches = sample("cultuurbus_sink_batch_rows_count")

    raw = s.model_copy(update={"clickhouse": s.clickhouse.model_copy(
        update={"database": f"benchraw_{uuid.uuid4().hex[:8]}"})})
    cleanup.append(raw)
    client = connect_clickhouse(raw.clickhouse)
    migrate(client)
    rows = [ticket_row(f.to_avro(), Source(pid, 0, i)).values for i, (pid, f) in enumerate(facts)]
    columns = list(COLUMNS["ticket_facts"])
    batch = s.sink.batch_max_rows
    t0 = time.perf_counter()
    for i in range(0, len(rows), batch):
        client.insert("ticket_facts", list(zip(*rows[i:i + batch], strict=True)), column_names=columns,
                      column_oriented=True)
    raw_s = time.perf_counter() - t0
    assert client.query("SELECT count() FROM ticket_facts").result_rows[0][0] == ROWS
    client.close()
    print(f"\n[clickhouse sink throughput] {ROWS} ticket-fact rows, batches of {batch}: "
          f"sink {ROWS / sink_s:,.0f} rows/s ({sink_s:.1f} s end to end, {batches:.0f} batches, "
          f"{insert_s:.1f} s inside client.insert, mean insert {1000 * insert_s / inserts:.0f} ms, "
          f"mean flush incl. commit {1000 * flush_s / batches:.0f} ms); "
          f"raw client.insert {ROWS / raw_s:,.0f} rows/s ({raw_s:.1f} s, "
          f"{1000 * raw_s / -(-ROWS // batch):.0f} ms per insert)")

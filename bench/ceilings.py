"""The machine's limits for our data: raw Kafka produce and consume of the very bytes the
pipeline carries (confluent-kafka, no processing), fastavro encode and decode alone, and a
raw clickhouse-connect insert of the very rows the sink writes."""

from __future__ import annotations

import io
import time
from typing import Any

import fastavro
from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from bench.data import Dataset
from bench.env import Bench
from bench.kafkaio import bench_consumer, bulk_producer, produce_all, schema_id
from bus.topics import TICKET_EVENTS, topic_name
from schemas import load_schema
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.rows import COLUMNS, Source, ticket_row

__all__ = ["measure_ceilings"]


def _kafka(bench: Bench, ds: Dataset, n: int) -> dict[str, float]:
    s = bench.fresh("ceil")
    topic = topic_name(TICKET_EVENTS, s.topic_prefix)
    sid = schema_id(bench.registry, topic, "ticket_event.avsc")
    keys = ds.event_keys()
    values = ds.wire(sid, ds.event_bodies)
    reps = -(-n // len(values))
    keys, values = (keys * reps)[:n], (values * reps)[:n]
    producer = bulk_producer(s)
    produce_all(producer, topic, keys[:1], values[:1])  # warm: producer id, metadata, connections
    t0 = time.perf_counter()
    produce_all(producer, topic, keys, values)
    produce_s = time.perf_counter() - t0

    consumer = bench_consumer(s, fetch_wait_max_ms=100, fetch_max_bytes=52_428_800,
                              max_partition_fetch_bytes=10_485_760)
    parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    got, nbytes = 0, 0
    deadline = time.monotonic() + 120
    t0 = 0.0  # from the call that brought the first records: connecting is not consuming
    want = n + 1  # and the warm-up record
    while got < want and time.monotonic() < deadline:
        called = time.perf_counter()
        for msg in consumer.consume(10_000, 0.5):
            err = msg.error()
            if err is not None and err.code() != KafkaError._PARTITION_EOF:
                raise RuntimeError(f"consume ceiling: {err}")
            if err is None:
                t0 = t0 or called
                got += 1
                nbytes += len(msg.value() or b"")
    consume_s = time.perf_counter() - t0
    consumer.close()
    if got < want:
        raise RuntimeError(f"consume ceiling: read {got} of {want} records in 120 s")
    return {"kafka_produce_eps": n / produce_s, "kafka_consume_eps": got / consume_s,
            "kafka_mean_record_bytes": nbytes / got}


def _fastavro(ds: Dataset, n: int) -> dict[str, float]:
    parsed = fastavro.parse_schema(load_schema("ticket_event.avsc"))
    records = (ds.events * (-(-n // len(ds.events))))[:n]
    bodies = (ds.event_bodies * (-(-n // len(ds.event_bodies))))[:n]
    writer, reader = fastavro.schemaless_writer, fastavro.schemaless_reader
    t0 = time.perf_counter()
    for rec in records:
        buf = io.BytesIO()
        writer(buf, parsed, rec)
        buf.getvalue()
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for body in bodies:
        reader(io.BytesIO(body), parsed, None)
    decode_s = time.perf_counter() - t0
    return {"fastavro_encode_rps": n / encode_s, "fastavro_decode_rps": n / decode_s}


def _renamed(rec: dict[str, Any], i: int) -> dict[str, Any]:
    return {**rec, "fact_id": f"{rec['fact_id']}#{i}"}


def _clickhouse(bench: Bench, ds: Dataset, n: int) -> dict[str, float]:
    s = bench.fresh("chraw")
    client = connect_clickhouse(s.clickhouse)
    try:
        migrate(client)
        m = len(ds.events)  # repeats get their own fact ids: identical blocks would be deduplicated
        records = [ds.events[i] if i < m else _renamed(ds.events[i % m], i)
                   for i in range(n)]
        rows = [ticket_row(r, Source(r["performance_key"], i % 4, i)).values for i, r in enumerate(records)]
        columns = list(COLUMNS["ticket_facts"])
        batch = s.sink.batch_max_rows
        t0 = time.perf_counter()
        for i in range(0, n, batch):
            client.insert("ticket_facts", list(zip(*rows[i:i + batch], strict=True)), column_names=columns,
                          column_oriented=True)
        insert_s = time.perf_counter() - t0
        count = client.query("SELECT count() FROM ticket_facts").result_rows[0][0]
        if count != n:
            raise RuntimeError(f"insert ceiling: {count} rows in ClickHouse, {n} inserted")
        client.command(f"DROP DATABASE IF EXISTS `{s.clickhouse.database}`")
    finally:
        client.close()
    return {"clickhouse_insert_rps": n / insert_s, "clickhouse_insert_batch_rows": batch}


def measure_ceilings(bench: Bench, ds: Dataset, n: int) -> dict[str, Any]:
    """Every ceiling, over ``n`` records of ``ds`` (repeated if ``ds`` is smaller)."""
    out: dict[str, Any] = {}
    out.update(_kafka(bench, ds, n))
    bench.say(f"ceilings: Kafka produce {out['kafka_produce_eps']:,.0f} rec/s, "
              f"consume {out['kafka_consume_eps']:,.0f} rec/s "
              f"({out['kafka_mean_record_bytes']:.0f} B/record)")
    out.update(_fastavro(ds, n))
    bench.say(f"ceilings: fastavro encode {out['fastavro_encode_rps']:,.0f}/s, "
              f"decode {out['fastavro_decode_rps']:,.0f}/s")
    out.update(_clickhouse(bench, ds, n))
    bench.say(f"ceilings: ClickHouse raw insert {out['clickhouse_insert_rps']:,.0f} rows/s")
    out["records"] = n
    return out

"""ClickHouse sink throughput: the real ``cultuurbus sink clickhouse`` catching up on every
topic it reads (raw facts and the derived state the streams wrote), alone on the
machine; timed from its first record read to its last commit (wall and the sink's CPU
seconds); profiled with py-spy.
Then the ceiling for exactly these rows: a raw clickhouse-connect insert of them."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import httpx
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from bench.env import Bench
from bench.feed import wait_budget
from bench.kafkaio import Offsets, bench_consumer, high_watermark
from bench.options import Sizes
from bench.profile import Profiler
from bench.roles import Role, running, wait_for
from bus.kafka import make_consumer
from bus.serde import Registry
from bus.settings import Settings
from bus.topics import FACTS, UNMATCHED, topic_name
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.decode import DERIVED_TOPICS, RecordDecoder
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.rows import COLUMNS, Row

__all__ = ["SinkProbe", "measure_sink"]


class SinkProbe:
    """Reads running sinks' progress (one consumer group): their metrics, summed, and the
    group's committed offsets."""

    def __init__(self, s: Settings, *roles: Role) -> None:
        self.roles = roles
        self.topics = [topic_name(t, s.topic_prefix) for t in (FACTS, *DERIVED_TOPICS, UNMATCHED)]
        self._group = make_consumer(s.kafka, s.sink.group_id)  # never subscribes: reads commits only
        self._parts: list[TopicPartition] = []
        probe = bench_consumer(s)
        for t in self.topics:
            meta = probe.list_topics(t, timeout=10).topics[t]
            self._parts += [TopicPartition(t, p) for p in meta.partitions]
        probe.close()
        self._ends = {t: Offsets(s, t) for t in self.topics}

    def metric(self, name: str) -> float:
        """Sum over labels and sinks of one counter (a sink that does not answer adds 0)."""
        total = 0.0
        for role in self.roles:
            try:
                text = httpx.get(f"{role.url}/metrics", timeout=2.0).text
            except httpx.HTTPError:
                continue
            for fam in text_string_to_metric_families(text):
                for sample in fam.samples:
                    if sample.name == name:
                        total += sample.value
        return total

    def records_on_topics(self) -> int:
        return sum(o.total() for o in self._ends.values())

    def committed(self) -> int:
        got = self._group.committed(self._parts, timeout=10)
        return sum(max(tp.offset, 0) for tp in got)

    def close(self) -> None:
        self._group.close()
        for o in self._ends.values():
            o.close()


def _same_rows_insert(s: Settings, topics: list[str]) -> dict[str, Any]:
    """A raw clickhouse-connect insert of the very rows the sink wrote: every record of its
    topics decoded with the sink's own decoder (not timed), then inserted column-oriented,
    ``sink.batch_max_rows`` rows per insert per table, into a fresh database (timed). The
    column types are asked once per table before the clock starts, as the sink does."""
    decoder = RecordDecoder(Registry(s.registry), s.topic_prefix)
    consumer = bench_consumer(s, fetch_wait_max_ms=100)
    parts = []
    for t in topics:
        meta = consumer.list_topics(t, timeout=10).topics[t]
        parts += [TopicPartition(t, p, OFFSET_BEGINNING) for p in meta.partitions]
    want = sum(high_watermark(consumer, tp.topic, tp.partition) for tp in parts)
    consumer.assign(parts)
    rows: dict[str, list[tuple[Any, ...]]] = {}
    got, deadline = 0, time.monotonic() + 120
    while got < want and time.monotonic() < deadline:
        for msg in consumer.consume(10_000, 0.5):
            if msg.error() is not None:
                continue
            got += 1
            out = decoder.decode(msg.topic() or "", msg.key(), msg.value(), msg.partition() or 0,
                                 msg.offset() or 0, msg.timestamp()[1])
            if isinstance(out, Row):
                rows.setdefault(out.table, []).append(out.values)
    consumer.close()
    raw = s.clickhouse.model_copy(update={"database": s.clickhouse.database + "_raw"})
    client = connect_clickhouse(raw)
    try:
        migrate(client)
        batch, total = s.sink.batch_max_rows, sum(len(r) for r in rows.values())
        types = {table: client.create_insert_context(table, column_names=list(COLUMNS[table])).column_types
                 for table in rows}
        t0 = time.perf_counter()
        for table, values in rows.items():
            for i in range(0, len(values), batch):
                client.insert(table, list(zip(*values[i:i + batch], strict=True)),
                              column_names=list(COLUMNS[table]), column_types=types[table],
                              column_oriented=True)
        seconds = time.perf_counter() - t0
        client.command(f"DROP DATABASE IF EXISTS `{raw.database}`")
    finally:
        client.close()
    return {"rows": total, "tables": {t: len(r) for t, r in rows.items()}, "seconds": round(seconds, 2),
            "rps": total / seconds, "inserts": sum(-(-len(r) // batch) for r in rows.values())}


def measure_sink(bench: Bench, filled: Settings, sizes: Sizes) -> dict[str, Any]:
    """Rows/s of the sink catching up on ``filled``'s topics (a streams run's prefix), then of
    two sink processes in one group catching up on them into another database."""
    out = _catch_up(bench, filled, sizes, 1)
    raw = out["raw_insert_same_rows"] = _same_rows_insert(_sink_settings(filled, 1), out["topics"])
    out["ratio_to_raw_insert"] = out["rps"] / raw["rps"] if raw["rps"] else 0.0
    bench.say(f"sink: raw insert of the same {raw['rows']:,} rows = {raw['rps']:,.0f} rows/s "
              f"(sink at {out['ratio_to_raw_insert']:.2f} of it)")
    try:
        two = out["two_processes"] = _catch_up(bench, filled, replace(sizes, profile=False), 2)
        two["ratio_to_raw_insert"] = two["rps"] / raw["rps"] if raw["rps"] else 0.0
    except (TimeoutError, RuntimeError) as exc:
        out["two_processes"] = {"error": str(exc)[:300]}
    return out


def _sink_settings(filled: Settings, processes: int, tag: str = "") -> Settings:
    tail = ("" if processes == 1 else f"_{processes}p") + tag
    return filled.model_copy(update={
        "clickhouse": filled.clickhouse.model_copy(
            update={"database": filled.clickhouse.database + "_sink" + tail}),
        "sink": filled.sink.model_copy(update={"group_id": filled.sink.group_id + "-rate" + tail}),
    })


def _catch_up(bench: Bench, filled: Settings, sizes: Sizes, processes: int, tag: str = "") -> dict[str, Any]:
    """``processes`` sinks in one group from their first record read to the group's last
    commit: rows/s, and CPU seconds and peak RSS summed over the processes. ``tag`` makes
    the database and group the run's own (a later run reads the same topics again)."""
    s = _sink_settings(filled, processes, tag)
    with running(*(bench.sink(s) for _ in range(processes)), timeout=90) as sinks:
        probe = SinkProbe(s, *sinks)
        try:
            total = probe.records_on_topics()
            wait_for(lambda: probe.metric("cultuurbus_sink_records_in_total") > 0, 60, "sink's first record",
                     0.02, tuple(sinks))
            t0, cpu0 = time.time(), sum(r.cpu_seconds() for r in sinks)
            profiler = Profiler(sinks[0].pid, min(15.0, max(2.0, total / 20_000)),
                                bench.state / "profile-sink.txt").start() if sizes.profile else None
            budget = wait_budget(total, sizes.max_wait_s, 1000.0)
            try:
                wait_for(lambda: probe.committed() >= total, budget, "sink commits", 0.1, tuple(sinks))
                done = True
            except TimeoutError:
                done = False
            t1, cpu = time.time(), sum(r.cpu_seconds() for r in sinks) - cpu0
            rows = probe.metric("cultuurbus_sink_rows_written_total")
            records = probe.metric("cultuurbus_sink_records_in_total")
            out: dict[str, Any] = {
                "processes": processes, "topics": probe.topics,
                "records_on_topics": total, "records_in": records, "rows_written": rows,
                "seconds": round(t1 - t0, 2), "rps": rows / (t1 - t0), "records_per_s": records / (t1 - t0),
                "complete": done, "rss_mb": sum(r.peak_rss_mb() for r in sinks), "cpu_seconds": round(cpu, 2),
                "rows_per_cpu_s": rows / cpu if cpu > 0 else 0.0,
                "insert_seconds": probe.metric("cultuurbus_sink_insert_seconds_sum"),
                "inserts": probe.metric("cultuurbus_sink_insert_seconds_count"),
                "flush_seconds": probe.metric("cultuurbus_sink_flush_seconds_sum"),
                "batches": probe.metric("cultuurbus_sink_batch_rows_count"),
            }
            if profiler is not None:
                profiler.stop()
                out["profile"] = profiler.result()
        finally:
            probe.close()
    state = "" if out["complete"] else " (cut short)"
    who = "sink" if processes == 1 else f"sink, {processes} processes"
    bench.say(f"{who}: {out['rows_written']:,.0f} rows from {total:,} records in {out['seconds']:.1f} s = "
              f"{out['rps']:,.0f} rows/s, {out['rows_per_cpu_s']:,.0f} rows per CPU-second{state}")
    return out

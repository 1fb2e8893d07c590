"""What matching costs in the streams worker: calendar facts per second and per worker
CPU-second, with and without matching, in one run on one machine.

Two seasons of the same size and seed: one under the simulator's linked conventions
(every description carries a shared identifier, so identity only looks ids up in the
crosswalk) and one under real rules (a third of the vendor events carry no sector id
and venue pages and iCal feeds carry none, so those descriptions go to the matcher,
one local day at a time). Every description the connectors would publish
(``connectors.simulator.descriptions``) goes to ``calendar.performances`` of a fresh
topic prefix, as fast as the producer goes, with one real ``cultuurbus streams worker``
running. The run is timed from the first description sent to the last availability
record received once the worker has gone quiet (no new record for ``QUIET_S``; the
number of performances that appeared is reported, so a run cut short shows). The
worker's CPU is read from ``/proc/<pid>/stat`` over the same span.
"""

from __future__ import annotations

import io
import os
import struct
import time
from pathlib import Path
from typing import Any

import fastavro
from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from bench.env import Bench
from bench.kafkaio import bench_consumer, bulk_producer, high_watermark, produce_all, schema_id
from bench.matching import NOW as _NOW
from bench.roles import running
from bench.watch import AvailabilityWatch
from bus.topics import AVAILABILITY, PERFORMANCES, topic_name
from connectors.simulator.descriptions import mapped_descriptions
from connectors.simulator.season import build_season
from schemas import load_schema

__all__ = ["QUIET_S", "measure_identity"]

QUIET_S = 6.0
_HEADER = struct.Struct(">bI")
_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (``/proc/<pid>/stat``); 0 when gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def live_keys(settings: Any, topic: str, timeout: float = 30.0) -> int:
    """Keys of a compacted topic whose latest record is not a tombstone (read to its end)."""
    c = bench_consumer(settings)
    try:
        parts = sorted(c.list_topics(topic, timeout=10).topics[topic].partitions)
        ends = {p: high_watermark(c, topic, p) for p in parts}
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        latest: dict[bytes, bool] = {}
        left, deadline = sum(ends.values()), time.monotonic() + timeout
        while left > 0 and time.monotonic() < deadline:
            for msg in c.consume(1000, 0.5):
                if msg.error() is None and (msg.offset() or 0) < ends[msg.partition() or 0]:
                    latest[msg.key() or b""] = msg.value() is not None
                    left -= 1
        return sum(latest.values())
    finally:
        c.close()


def _encoded(season: Any, sid: int) -> tuple[list[bytes], list[bytes], int]:
    schema = fastavro.parse_schema(load_schema("performance.avsc"))
    keys, values = [], []
    for _kind, perf in mapped_descriptions(season):
        buf = io.BytesIO()
        buf.write(_HEADER.pack(0, sid))
        fastavro.schemaless_writer(buf, schema, perf.to_avro())
        keys.append(perf.performance_key.encode())
        values.append(buf.getvalue())
    return keys, values, len(season.performances)


def _one(bench: Bench, mode: str, seed: int, sizes: dict[str, int], cap_s: float,
         quiet_s: float = QUIET_S) -> dict[str, Any]:
    season = build_season(seed, identifiers=mode, now=_NOW, **sizes)
    s = bench.fresh(f"id{mode}")
    topic = topic_name(PERFORMANCES, s.topic_prefix)
    keys, values, performances = _encoded(season, schema_id(bench.registry, topic, "performance.avsc"))
    worker = bench.worker(s, f"id-{mode}")
    last = [0.0]
    watch = AvailabilityWatch(s, topic_name(AVAILABILITY, s.topic_prefix), bench.registry,
                              on_record=lambda _pid, _rec, at, _ts: last.__setitem__(0, at))
    with running(worker, timeout=120):
        watch.start()
        producer = bulk_producer(s)
        try:
            cpu0 = cpu_seconds(worker.pid)
            t0 = produce_all(producer, topic, keys, values)
            cpu_at_last, seen_last = cpu0, 0.0
            deadline = time.monotonic() + cap_s
            while time.monotonic() < deadline:
                time.sleep(0.2)
                worker.check()
                if last[0] != seen_last:  # a record arrived since the last look
                    seen_last, cpu_at_last = last[0], cpu_seconds(worker.pid)
                elif seen_last and time.time() - seen_last > quiet_s:
                    break
            quiet = bool(seen_last) and time.time() - seen_last > quiet_s
        finally:
            producer.flush(10)
            watch.close()
    live = live_keys(s, topic_name(AVAILABILITY, s.topic_prefix))
    seconds = max(seen_last - t0, 1e-3)
    cpu = max(cpu_at_last - cpu0, 1e-3)
    out = {"mode": mode, "descriptions": len(values), "performances_truth": performances,
           "performances_seen": live, "performances_ever_shown": len(watch.latest),
           "availability_records": watch.records,
           "seconds": round(seconds, 2), "worker_cpu_s": round(cpu, 2),
           "facts_per_s": len(values) / seconds, "facts_per_cpu_s": len(values) / cpu, "quiet": quiet}
    bench.say(f"identity {mode}: {len(values):,} descriptions in {seconds:.1f} s = "
              f"{out['facts_per_s']:,.0f}/s, {out['facts_per_cpu_s']:,.0f} per worker CPU-s; "
              f"{live:,} performances shown ({len(watch.latest):,} ever; the season has {performances:,})"
              + ("" if quiet else " (cut short)"))
    return out


def measure_identity(bench: Bench, smoke: bool = False, seed: int = 42, cap_s: float = 180.0
                     ) -> dict[str, Any]:
    """The ``identity`` part: the same season size linked and under real rules."""
    sizes = ({"venues": 8, "productions": 12, "performances": 60} if smoke else
             {"venues": 60, "productions": 250, "performances": 3000})
    quiet_s = 2.0 if smoke else QUIET_S  # a smoke run proves the part runs, it times nothing
    linked = _one(bench, "linked", seed, sizes, cap_s, quiet_s)
    real = _one(bench, "real", seed, sizes, cap_s, quiet_s)
    ratio = real["facts_per_cpu_s"] / linked["facts_per_cpu_s"] if linked["facts_per_cpu_s"] else None
    return {"season": sizes, "linked": linked, "real": real, "real_over_linked_per_cpu_s": ratio}


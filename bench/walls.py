"""The Faust wall: what the runtime alone costs, on the streams part's data (the same Avro
ticket facts, repeated to ``Sizes.wall_events``) in one topic of 4 partitions.

Each contender (``bench.peers.faust_empty``) is a subprocess that reads the whole topic
from the start in its own consumer group and times itself by its first and last record
and its CPU time: an empty Faust agent iterating the stream, the same agent taking
batches as our facts agent does, the batched agent decoding each value, and a plain
confluent-kafka loop that only decodes. Set against the raw consume ceiling (no decode,
``bench.ceilings``) and our worker's events/s, they show how much of the worker's budget
the runtime takes before any of our code runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from bench.data import Dataset
from bench.env import Bench
from bench.kafkaio import bulk_producer, produce_all, schema_id
from bench.options import Sizes
from bench.peers.faust_empty import MODES
from bench.roles import REPO, peak_rss_mb, stop_process_group
from bus.settings import Settings
from bus.topics import TICKET_EVENTS, topic_name
from ops.stack.ports import free_ports

__all__ = ["measure_walls"]


def _fill(bench: Bench, s: Settings, ds: Dataset, n: int) -> str:
    topic = topic_name(TICKET_EVENTS, s.topic_prefix)
    sid = schema_id(bench.registry, topic, "ticket_event.avsc")
    keys, values = ds.event_keys(), ds.wire(sid, ds.event_bodies)
    reps = -(-n // len(values))
    producer = bulk_producer(s)
    produce_all(producer, topic, (keys * reps)[:n], (values * reps)[:n])
    return topic


def _run(bench: Bench, s: Settings, topic: str, mode: str, n: int, wait_s: float) -> dict[str, Any]:
    tag = s.topic_prefix.strip(".")
    out = bench.state / tag / f"wall-{mode}.json"
    log = out.with_suffix(".log")
    out.parent.mkdir(parents=True, exist_ok=True)
    (port,) = free_ports(1)
    argv = [sys.executable, "-m", "bench.peers.faust_empty", "--mode", mode, "--topic", topic,
            "--count", str(n), "--out", str(out), "--app-id", f"{tag}-{mode.replace('_', '-')}",
            "--web-port", str(port)]
    with log.open("ab") as log_f:
        proc = subprocess.Popen(argv, cwd=REPO, env=bench.env(s), stdout=log_f, stderr=subprocess.STDOUT,
                                start_new_session=True)
    peak = 0.0
    try:
        deadline = time.monotonic() + wait_s
        while not out.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"wall {mode} exited (code {proc.returncode}); see {log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"wall {mode}: {n:,} records not read within {wait_s:.0f} s; see {log}")
            peak = max(peak, peak_rss_mb(proc.pid))
            time.sleep(0.1)
        peak = max(peak, peak_rss_mb(proc.pid))
    finally:
        stop_process_group(proc)
    doc: dict[str, Any] = json.loads(out.read_text())
    doc["rss_mb"] = round(max(peak, doc.get("rss_mb", 0.0)), 1)
    bench.say(f"walls: {mode} {doc['timed_records']:,} records in {doc['seconds']:.2f} s = "
              f"{doc['eps']:,.0f}/s, "
              f"{doc['eps_per_cpu_s']:,.0f} per CPU-s ({doc['cpu_share']:.2f} cores; ready after "
              f"{doc['ready_s']:.1f} s)")
    return doc


def measure_walls(bench: Bench, ds: Dataset, sizes: Sizes, modes: tuple[str, ...] = MODES) -> dict[str, Any]:
    """Events/s and events per CPU-second of each runtime contender."""
    s = bench.fresh("walls")
    n = sizes.wall_events
    topic = _fill(bench, s, ds, n)
    wait_s = 90.0 + min(sizes.max_wait_s, n / 2_000)
    out: dict[str, Any] = {"records": n, "partitions": 4}
    for mode in modes:
        out[mode] = _run(bench, s, topic, mode, n, wait_s)
    return out


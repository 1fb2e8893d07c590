"""Latency at fixed offered loads: ticket events sent at a paced rate with ``event_time``
= send time, through the running pipeline (webhook-less: straight onto the ticketing
topic, as a connector would put them), and seen at three places a user looks:

- the availability topic: a subscriber's receive time - the record's ``last_fact_time``;
- ClickHouse: ``written_at`` (set by the server at insert) - ``event_time`` of the row;
- the gateway's SSE stream: the client's receive time - the event's ``last_fact_time``.

All on one machine and one clock. Each load lasts a fixed time; the backlog is drained
(bounded) before the next one. One producer sends every load, after a warm-up that
is not counted (``Sizes.latency_warmup_s``, 20 s: a new producer stamps its first events
before it can send them, and a fresh broker compiles its hot paths under the first load).
"""

from __future__ import annotations

import io
import os
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import fastavro
import httpx
from confluent_kafka import TopicPartition

from bench.data import Dataset, ticket_record
from bench.env import Bench
from bench.kafkaio import bench_consumer, bulk_producer, high_watermark, schema_id
from bench.options import Sizes
from bench.roles import cpu_seconds
from bench.watch import AvailabilityWatch
from bus.serde import AvroSerializer
from bus.settings import Settings
from bus.topics import AVAILABILITY, FACTS, TICKET_EVENTS, topic_name
from sinks.clickhouse.connect import connect_clickhouse
from sinks.gateway.client import stream_events

__all__ = ["measure_latency", "measure_worker_latency", "percentiles"]


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p95, p99, max (and the count) of ``values``, rounded to 0.1."""
    if not values:
        return {"n": 0}
    v = sorted(values)

    def at(q: float) -> float:
        return round(v[min(len(v) - 1, int(q * len(v)))], 1)

    return {"n": len(v), "p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "max": round(v[-1], 1)}


class _Sse:
    """An SSE client of the gateway in a thread, noting each availability's latency."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[tuple[int, float]] = []  # (last_fact_time ms, latency ms)
        self._http = httpx.Client(base_url=url, timeout=httpx.Timeout(10.0, read=None))
        self._stop = threading.Event()
        self.error: str | None = None
        start = self._http.get("/v1/availability", params={"limit": 0}).json()["last_event_id"]
        self._thread = threading.Thread(target=self._run, args=(start,), name="sse", daemon=True)
        self._thread.start()

    def _run(self, last_id: str) -> None:
        try:
            for e in stream_events(self._http, topics="availability", last_event_id=last_id):
                now = time.time()
                if e.event != "availability":
                    continue
                lft = e.json().get("last_fact_time")
                if lft:
                    t = datetime.fromisoformat(lft.replace("Z", "+00:00")).timestamp()
                    self.latencies.append((int(t * 1000), 1000 * (now - t)))
                if self._stop.is_set():
                    return
        except Exception as exc:  # noqa: BLE001 - closing the client ends the stream
            if not self._stop.is_set():
                self.error = f"{type(exc).__name__}: {exc}"

    def close(self) -> None:
        self._stop.set()
        self._http.close()
        self._thread.join(5)


class _Tracker:
    """Availability records seen by the watch: latencies, and which performances still
    wait for the newest fact sent to them (the drain condition)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[str, int] = {}
        self.latencies: list[tuple[int, float]] = []  # (last_fact_time ms, latency ms)
        self.records: list[tuple[str, int, int, float]] = []  # pid, last_fact_time, Kafka ts, recv (ms)

    def sent(self, pid: str, ms: int) -> None:
        with self.lock:
            self.pending[pid] = max(self.pending.get(pid, 0), ms)

    def on_record(self, pid: str, rec: dict[str, Any], recv: float, produced_ms: int) -> None:
        lft = rec.get("last_fact_time")
        if lft is None:
            return
        ms = lft if isinstance(lft, int) else int(lft.timestamp() * 1000)
        with self.lock:
            self.latencies.append((ms, 1000 * recv - ms))
            self.records.append((pid, ms, produced_ms, 1000 * recv))
            if pid in self.pending and ms >= self.pending[pid]:
                del self.pending[pid]

    def between(self, lo: int, hi: int) -> list[float]:
        with self.lock:
            return [lat for t, lat in self.latencies if lo <= t <= hi]

    def hops(self, rekeyed_at: Callable[[str, int], int | None], lo: int, hi: int) -> dict[str, Any]:
        """Where the time of each availability record between ``lo`` and ``hi`` went, split
        at the worker's two hand-overs to its producer (both Kafka timestamps are the time its
        producer took the record; ``rekeyed_at(pid, event_ms)`` gives the re-keyed fact's,
        None when it was not read): fact -> re-keyed fact (the bench's send, the broker, the
        identity agent's fetch, queue and batch), -> availability record (the identity
        agent's produce, the broker, the facts agent's fetch, queue and batch), -> received
        (the facts agent's produce, the broker, the subscriber's fetch). ``tail_*``: the
        median of each part over the slowest 1% of the records in all."""
        with self.lock:
            records = [r for r in self.records if lo <= r[1] <= hi]
        parts: list[tuple[float, float, float]] = []
        for pid, lft, avail_ts, recv in records:
            rk = rekeyed_at(pid, lft)
            if rk is not None:
                parts.append((rk - lft, avail_ts - rk, recv - avail_ts))
        if not parts:
            return {"joined": 0, "records": len(records)}
        names = ("to_rekeyed", "to_availability", "to_subscriber")
        tail = sorted(parts, key=sum)[-max(1, len(parts) // 100):]  # the slowest 1% in all
        out: dict[str, Any] = {"joined": len(parts), "records": len(records)}
        for i, name in enumerate(names):
            out[name] = percentiles([p[i] for p in parts])
            out["tail_" + name] = round(sorted(p[i] for p in tail)[len(tail) // 2], 1)
        return out


class _Rekeyed:
    """The re-keyed facts topic read from its end in a thread: the Kafka timestamp of each
    fact the identity agent forwarded, by (performance, event time). It runs in the bench's
    process beside the feed and the other readers, and its decoding is counted in that
    process's CPU-seconds."""

    def __init__(self, settings: Settings, topic: str, registry: Any) -> None:
        self._c = bench_consumer(settings, fetch_wait_max_ms=5)
        self._registry = registry
        self._schemas: dict[int, Any] = {}
        self._seen: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.error: str | None = None  # why the reader stopped early
        meta = self._c.list_topics(topic, timeout=10).topics[topic]
        self._c.assign([TopicPartition(topic, p, high_watermark(self._c, topic, p)) for p in meta.partitions])
        self._thread = threading.Thread(target=self._run, name="rekeyed-watch", daemon=True)
        self._thread.start()

    def at(self, pid: str, event_ms: int) -> int | None:
        with self._lock:
            return self._seen.get((pid, event_ms))

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for msg in self._c.consume(1000, 0.05):
                    value = msg.value()
                    if msg.error() is not None or value is None or len(value) < 5:
                        continue
                    sid = int.from_bytes(value[1:5], "big")
                    schema = self._schemas.get(sid)
                    if schema is None:
                        schema = self._schemas[sid] = self._registry.writer_schema(sid)
                    fact: Any = fastavro.schemaless_reader(io.BytesIO(value[5:]), schema, None)
                    et = fact["event_time"]
                    ms = et if isinstance(et, int) else int(et.timestamp() * 1000)
                    with self._lock:
                        self._seen.setdefault(((msg.key() or b"").decode(), ms), msg.timestamp()[1])
        except Exception as exc:  # noqa: BLE001 - the split is left out, the latencies stand
            self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._c.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)


def _phase(s: Settings, ds: Dataset, rate: int, seconds: float, ser: AvroSerializer, track: _Tracker,
           cap: float, producer: Any) -> dict[str, Any]:
    """Send ``rate`` events/s for ``seconds``, then drain (bounded); returns send stats.
    ``producer`` is warm (connected, its idempotence id acquired): a new one would stamp
    its first events before it can send them."""
    topic = topic_name(TICKET_EVENTS, s.topic_prefix)
    rng = random.Random(rate)
    pids = [p["performance_key"] for p in ds.performances]
    tag = f"lat{rate}-{uuid.uuid4().hex[:6]}"
    n = int(rate * seconds)
    t0 = time.time()
    sent = 0
    while sent < n:
        due = min(n, int((time.time() - t0) * rate) + 1)
        while sent < due:
            pid = rng.choice(pids)
            now_ms = int(time.time() * 1000)
            rec = ticket_record(pid, f"e-lat-{pid[-6:]}", sent, "SOLD", 1, now_ms, rng)
            rec["fact_id"] = f"{tag}-{sent}"
            producer.produce(topic, ser(rec), pid.encode())
            track.sent(pid, now_ms)
            sent += 1
        producer.poll(0)
        time.sleep(0.002)
    send_s = time.time() - t0
    producer.flush(30)
    deadline = time.monotonic() + cap  # drain: every performance touched shows its newest fact
    while track.pending and time.monotonic() < deadline:
        time.sleep(0.1)
    return {"offered_eps": rate, "sent": n, "send_eps": round(n / send_s, 1), "tag": tag,
            "start_ms": int(t0 * 1000), "end_ms": int(time.time() * 1000), "drained": not track.pending}


def _clickhouse(s: Settings, tag: str, n: int, cap: float) -> dict[str, float]:
    client = connect_clickhouse(s.clickhouse)
    try:
        deadline = time.monotonic() + cap
        while time.monotonic() < deadline:
            got = client.query("SELECT count() FROM ticket_facts WHERE startsWith(fact_id, {tag:String})",
                               parameters={"tag": tag + "-"}).result_rows[0][0]
            if got >= n:
                break
            time.sleep(0.2)
        rows = client.query(
            "SELECT dateDiff('millisecond', event_time, written_at) FROM ticket_facts "
            "WHERE startsWith(fact_id, {tag:String})", parameters={"tag": tag + "-"}).result_rows
        return percentiles([float(r[0]) for r in rows])
    finally:
        client.close()


def _busy_core_seconds() -> float:
    """Seconds the machine's cores were busy (not idle, not waiting for I/O) since boot."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _cpu_while(pids: Mapping[str, int]) -> Callable[[float], dict[str, Any]]:
    """Start counting: the returned call gives each process's CPU-seconds since, and the
    machine's busy cores over ``seconds``."""
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    busy0 = _busy_core_seconds()

    def since(seconds: float) -> dict[str, Any]:
        busy1 = _busy_core_seconds()
        return {"cpu_s": {name: round(cpu_seconds(pid) - before[name], 2) for name, pid in pids.items()},
                "machine_busy_cores": round((busy1 - busy0) / seconds, 2) if seconds > 0 else None}

    return since


def measure_latency(bench: Bench, s: Settings, ds: Dataset, gateway_url: str, sizes: Sizes,
                    capacity_eps: float | None = None, pids: Mapping[str, int] | None = None
                    ) -> dict[str, Any]:
    """Fact -> availability topic / ClickHouse / SSE latency at each offered load, and at half
    the pipeline's capacity when it is given (the rate a backlog drained at, all roles on
    the machine; issue #14's goal is stated there). With ``pids`` (name -> process), each
    load also records the CPU-seconds each of them used while it was sent and drained,
    and how many of the machine's cores were busy then: where the cores went."""
    track = _Tracker()
    watch = AvailabilityWatch(s, topic_name(AVAILABILITY, s.topic_prefix), bench.registry,
                               on_record=track.on_record).start()
    rekeyed = _Rekeyed(s, topic_name(FACTS, s.topic_prefix), bench.registry)
    schema_id(bench.registry, topic_name(TICKET_EVENTS, s.topic_prefix), "ticket_event.avsc")
    ser = AvroSerializer(bench.registry, topic_name(TICKET_EVENTS, s.topic_prefix), "ticket_event.avsc")
    sse = _Sse(gateway_url)
    producer = bulk_producer(s, linger_ms=1)
    cap = min(sizes.max_wait_s, 60.0)
    out: dict[str, Any] = {}
    rates = sorted(set(sizes.rates))
    if capacity_eps:
        half = max(int(round(capacity_eps / 2, -1)), 10)
        out["capacity_eps"], out["half_capacity_eps"] = round(capacity_eps, 1), half
        rates = sorted({*rates, half})
    try:
        _phase(s, ds, min(sizes.rates), sizes.latency_warmup_s, ser, track, cap, producer)  # warm-up
        for rate in rates:
            counting = _cpu_while(pids or {})
            phase = _phase(s, ds, rate, sizes.latency_seconds, ser, track, cap, producer)
            phase.update(counting((phase["end_ms"] - phase["start_ms"]) / 1000))
            lo, hi = phase["start_ms"], phase["end_ms"]
            av = track.between(lo, hi)
            sse_lat = [lat for t, lat in list(sse.latencies) if lo <= t <= hi]
            phase["availability"] = percentiles(av)
            phase["hops"] = track.hops(rekeyed.at, lo, hi)
            if rekeyed.error:
                phase["hops"]["error"] = rekeyed.error
            phase["clickhouse"] = _clickhouse(s, phase.pop("tag"), phase["sent"], min(sizes.max_wait_s, 30.0))
            phase["sse"] = percentiles(sse_lat)
            out[str(rate)] = phase
            bench.say(f"latency at {rate}/s (sent {phase['send_eps']:,.0f}/s): fact->availability "
                      f"p50 {phase['availability'].get('p50')} p99 {phase['availability'].get('p99')} ms; "
                      f"->ClickHouse p99 {phase['clickhouse'].get('p99')} ms; "
                      f"->SSE p99 {phase['sse'].get('p99')} ms; p99 by part (ms): "
                      + ", ".join(f"{k} {phase['hops'].get(k, {}).get('p99')}"
                                  for k in ("to_rekeyed", "to_availability", "to_subscriber"))
                      + ("" if phase["drained"] else " (backlog not drained)"))
    finally:
        sse.close()
        watch.close()
        rekeyed.close()
    if sse.error:
        out["sse_error"] = sse.error
    return out


def measure_worker_latency(bench: Bench, s: Settings, ds: Dataset, sizes: Sizes, rate: int = 1000
                           ) -> dict[str, Any]:
    """Fact -> availability topic at ``rate`` events/s with the streams worker alone on
    the machine (no sink, no gateway): the issue's "p99 fact -> availability" as the
    worker itself delivers it, next to the whole pipeline's number from
    :func:`measure_latency`, where the sink and the gateway share the two cores."""
    track = _Tracker()
    watch = AvailabilityWatch(s, topic_name(AVAILABILITY, s.topic_prefix), bench.registry,
                              on_record=track.on_record).start()
    rekeyed = _Rekeyed(s, topic_name(FACTS, s.topic_prefix), bench.registry)
    schema_id(bench.registry, topic_name(TICKET_EVENTS, s.topic_prefix), "ticket_event.avsc")
    ser = AvroSerializer(bench.registry, topic_name(TICKET_EVENTS, s.topic_prefix), "ticket_event.avsc")
    producer = bulk_producer(s, linger_ms=1)
    cap = min(sizes.max_wait_s, 60.0)
    try:
        _phase(s, ds, rate, sizes.latency_warmup_s, ser, track, cap, producer)  # warm-up
        phase = _phase(s, ds, rate, sizes.latency_seconds, ser, track, cap, producer)
    finally:
        watch.close()
        rekeyed.close()
    phase.pop("tag")
    phase["availability"] = percentiles(track.between(phase["start_ms"], phase["end_ms"]))
    phase["hops"] = track.hops(rekeyed.at, phase["start_ms"], phase["end_ms"])
    bench.say(f"latency, worker alone, at {rate}/s (sent {phase['send_eps']:,.0f}/s): fact->availability "
              f"p50 {phase['availability'].get('p50')} p99 {phase['availability'].get('p99')} ms"
              + ("" if phase["drained"] else " (backlog not drained)"))
    return phase

"""Measures produce -> SSE received for 1,000 availability changes at a bounded rate.

A measurement, not a timed assertion: it asserts only that every change arrived, in
order, once; the percentiles are printed and written to a JSON file under tmp.
"""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bus.kafka import make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY
from schemas.models import Availability, AvailabilityStatus
from sinks.gateway.client import stream_events
from sinks.gateway.server import Gateway
from tests.support.gateway import wait_healthy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHANGES = int(os.environ.get("GATEWAY_BENCH_CHANGES", "1000"))
RATE = float(os.environ.get("GATEWAY_BENCH_RATE", "200"))
PERFORMANCES = 20


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def test_produce_to_sse_latency(topics: Settings, registry: Registry, tmp_path: Path) -> None:
    gw = Gateway(topics, host="127.0.0.1", port=0).start()
    received: dict[str, float] = {}
    order: list[str] = []
    done = threading.Event()
    try:
        wait_healthy(gw, 30)
        run = uuid.uuid4().hex[:6]
        pids = [f"dip|NL-BENCH-{run}|{i}" for i in range(PERFORMANCES)]
        http = httpx.Client(base_url=gw.url, timeout=httpx.Timeout(30.0))
        start_id = http.get("/v1/availability", params={"limit": 0}).json()["last_event_id"]

        def read() -> None:
            events = stream_events(http, topics="availability", last_event_id=start_id)
            try:
                for e in events:
                    if e.event != "availability":
                        continue
                    doc = e.json()
                    if not doc["performance_id"].startswith(f"dip|NL-BENCH-{run}|"):
                        continue
                    tag = f"{doc['performance_id']}#{doc['version']}"
                    received[tag] = time.time()
                    order.append(tag)
                    if len(received) >= CHANGES:
                        break
            finally:
                events.close()
                done.set()

        threading.Thread(target=read, daemon=True).start()
        topic = topics.topic_prefix + AVAILABILITY
        producer = make_producer(topics.kafka)
        ser = AvroSerializer(registry, topic, "availability.avsc")
        sent: dict[str, float] = {}
        start = datetime.now(UTC) + timedelta(hours=5)
        t0 = time.monotonic()
        for i in range(CHANGES):
            pid = pids[i % PERFORMANCES]
            version = i // PERFORMANCES + 1
            now = datetime.now(UTC)
            rec = Availability(performance_id=pid, capacity=10_000, sold=version, remaining=10_000 - version,
                               status=AvailabilityStatus.AVAILABLE, title="Bench", venue_name="Bench",
                               start=start, updated_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
                               version=version)
            value = ser(rec)
            sent[f"{pid}#{version}"] = time.time()
            producer.produce(topic, key=pid.encode(), value=value)
            producer.poll(0)
            pause = t0 + (i + 1) / RATE - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        assert producer.flush(30) == 0
        assert done.wait(60), f"only {len(received)} of {CHANGES} changes arrived"
        http.close()
    finally:
        gw.close()

    assert len(order) == len(set(order)) == CHANGES  # each once
    for pid in pids:  # in order per performance
        versions = [int(t.split("#")[1]) for t in order if t.startswith(pid + "#")]
        assert versions == sorted(versions)
    lat_ms = [(received[k] - sent[k]) * 1000 for k in sent]
    result = {"changes": CHANGES, "rate_per_s": RATE, "p50_ms": round(statistics.median(lat_ms), 2),
              "p90_ms": round(_pct(lat_ms, 0.90), 2), "p99_ms": round(_pct(lat_ms, 0.99), 2),
              "max_ms": round(max(lat_ms), 2), "mean_ms": round(statistics.fmean(lat_ms), 2)}
    out = Path(os.environ.get("GATEWAY_BENCH_OUT", tmp_path / "gateway_sse_latency.json"))
    out.write_text(json.dumps(result, indent=2))
    print(f"\ngateway produce->SSE latency: {result} -> {out}")

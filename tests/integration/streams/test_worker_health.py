"""A real worker serves its crosswalk reader's health on /healthz and its counts on /metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bus.kafka import make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import IDENTITY
from tests.support.waiting import wait_until

from .harness import Worker

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def healthz(base: str) -> Any:
    """The worker's /healthz report once it is ready, else None."""
    try:
        r = httpx.get(f"{base}/healthz", timeout=2)
    except httpx.HTTPError:
        return None
    return r.json() if r.status_code == 200 else None


def test_a_worker_serves_its_crosswalk_readers_health_and_counts(streams_settings: Settings,
                                                                   tmp_path: Path) -> None:
    s = streams_settings
    topic = s.topic_prefix + IDENTITY
    good = AvroSerializer(Registry(s.registry), topic, "identity_link.avsc")(
        {"namespace": "dip", "value": "G|1", "performance_id": "dip|G|1", "learned_from": "f1",
         "event_time": 1_748_779_200_000})
    producer = make_producer(s.kafka)
    producer.produce(topic, key=b"dip|G|1", value=good)
    producer.produce(topic, key=b"dip|X|1", value=b"\x07 not avro at all")
    assert producer.flush(30) == 0

    worker = Worker("w1", s, tmp_path / "state", tmp_path / "w1.log").start()
    base = f"http://127.0.0.1:{worker.port}"
    try:
        health = wait_until(lambda: healthz(base) if worker.alive() else "worker died", 180, 1.0)
        assert isinstance(health, dict), (tmp_path / "w1.log").read_text(errors="replace")[-3000:]
        assert health["checks"] == {"partitions_assigned": True, "crosswalk_read": True,
                                    "crosswalk_reader_running": True}
        metrics = httpx.get(f"{base}/metrics", timeout=5).text
    finally:
        worker.stop()
    samples = {(m.name, tuple(sorted(m.labels.items()))): m.value
               for family in text_string_to_metric_families(metrics) for m in family.samples}
    reader = (("reader", "crosswalk"),)
    for outcome in ("applied", "dead_letter"):
        labels = (("outcome", outcome), *reader, ("topic", IDENTITY))
        assert samples[("cultuurbus_compacted_records_total", labels)] == 1.0
    assert samples[("cultuurbus_compacted_ready", reader)] == 1.0

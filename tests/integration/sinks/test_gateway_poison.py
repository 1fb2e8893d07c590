"""No record can take the gateway down: poison availability records on the compacted
topic (a ``last_fact_time`` in year 10000, garbage bytes, a start the view cannot render
in local time) are dead-lettered, and the gateway is ready, serves the other
performances, and is ready again after a restart (issue #11)."""

from __future__ import annotations

import io
import struct
import time
import uuid
from datetime import timedelta
from urllib.parse import quote

import fastavro
import httpx
import pytest

from bus.kafka import make_admin, make_consumer, make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, apply_catalog, dlq_of
from schemas import load_schema
from schemas.models import Availability, AvailabilityStatus, utcnow
from sinks.gateway.server import Gateway

pytestmark = pytest.mark.integration

WAIT_S = 30.0
# 9999-12-31T23:59:59-12:00, the order time that was accepted: year 10000 in UTC.
YEAR_10000_MS = 253_402_343_999_000
LATE_START_MS = 253_402_299_000_000  # 9999-12-31T23:30:00Z
GARBAGE = b"\x00\xff\xff\xff\x7f not avro"


@pytest.fixture(scope="module")
def poisoned(bus_settings: Settings, registry: Registry) -> tuple[Settings, dict[str, bytes]]:
    """A fresh topic prefix whose availability topic holds good records around poison."""
    prefix = f"gwp{uuid.uuid4().hex[:6]}."
    s = bus_settings.model_copy(update={"topic_prefix": prefix})
    apply_catalog(make_admin(s.kafka), prefix)
    topic = prefix + AVAILABILITY
    serialize = AvroSerializer(registry, topic, "availability.avsc")

    def good(pid: str) -> bytes:
        now = utcnow()
        return serialize(Availability(performance_id=pid, capacity=100, sold=58, remaining=42,
                                      status=AvailabilityStatus.AVAILABLE, city="Utrecht",
                                      start=now + timedelta(hours=6), updated_at=now, version=1)) or b""

    bad = f"dip|POISON-{uuid.uuid4().hex[:6]}|1"
    record = Availability(performance_id=bad, capacity=100, remaining=1, status=AvailabilityStatus.LIMITED,
                          updated_at=utcnow(), version=1).to_avro()
    writer = fastavro.parse_schema(load_schema("availability.avsc"))

    def wire(rec: dict[str, object]) -> bytes:
        """Written with fastavro directly, as a producer outside the project's serde would."""
        buf = io.BytesIO()
        buf.write(struct.pack(">bI", 0, serialize.schema_id))
        fastavro.schemaless_writer(buf, writer, rec)
        return buf.getvalue()

    late = f"dip|POISON-START-{uuid.uuid4().hex[:6]}|1"
    # Decodes (year 9999 in UTC) but is year 10000 in Amsterdam: fails in the view, not the codec.
    late_start = wire({**record, "performance_id": late, "start": LATE_START_MS})
    values = {f"dip|BEFORE-{uuid.uuid4().hex[:6]}|1": b"", bad: wire({**record, "last_fact_time": YEAR_10000_MS}),
              late: late_start,
              f"dip|GARBAGE-{uuid.uuid4().hex[:6]}|1": GARBAGE, f"dip|AFTER-{uuid.uuid4().hex[:6]}|1": b""}
    producer = make_producer(s.kafka)
    for pid, value in values.items():
        values[pid] = value or good(pid)
        # One partition, in this order: the good record after the poison must still be read.
        producer.produce(topic, key=pid.encode(), value=values[pid], partition=0)
    assert producer.flush(WAIT_S) == 0
    return s, values


def wait_ready(gw: Gateway) -> httpx.Response:
    deadline = time.monotonic() + WAIT_S
    r = httpx.get(f"{gw.url}/healthz")
    while r.status_code != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        r = httpx.get(f"{gw.url}/healthz")
    return r


def test_a_poison_record_does_not_keep_the_gateway_from_ready_not_even_after_a_restart(
        poisoned: tuple[Settings, dict[str, bytes]]) -> None:
    s, values = poisoned
    good = [pid for pid in values if "BEFORE" in pid or "AFTER" in pid]
    for attempt in ("first start", "restart"):
        gw = Gateway(s, host="127.0.0.1", port=0).start()
        try:
            health = wait_ready(gw)
            assert health.status_code == 200, f"{attempt}: not ready: {health.text}"
            assert health.json()["checks"] == {"view_loaded": True, "loader_running": True,
                                               "tenants_loaded": True, "tenants_reader_running": True}
            for pid in good:
                r = httpx.get(f"{gw.url}/v1/performances/{quote(pid, safe='')}/availability")
                assert r.status_code == 200 and r.json()["remaining"] == 42, (attempt, r.text)
            for poison in (pid for pid in values if "POISON" in pid):
                r = httpx.get(f"{gw.url}/v1/performances/{quote(poison, safe='')}/availability")
                assert r.status_code == 404, r.text
            time.sleep(0.5)  # a moment for the loader: it must still be running afterwards
            assert httpx.get(f"{gw.url}/healthz").status_code == 200
            metrics = httpx.get(f"{gw.url}/metrics").text
            assert ('cultuurbus_gateway_records_total{outcome="dead_letter",'
                    'topic="participation.availability"} 3.0') in metrics
        finally:
            gw.close()


def test_the_dlq_holds_the_poison_records_original_bytes(
        poisoned: tuple[Settings, dict[str, bytes]]) -> None:
    s, values = poisoned
    gw = Gateway(s, host="127.0.0.1", port=0).start()
    try:
        assert wait_ready(gw).status_code == 200
    finally:
        gw.close()
    consumer = make_consumer(s.kafka, f"test-gwp-{uuid.uuid4().hex[:6]}")
    letters: dict[bytes, bytes | None] = {}
    try:
        consumer.subscribe([s.topic_prefix + dlq_of(AVAILABILITY)])
        deadline = time.monotonic() + WAIT_S
        while len(letters) < 3 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                letters[msg.key() or b""] = msg.value()
                headers = dict(msg.headers() or [])
                assert headers["errors.source"] == b"gateway" and headers["errors.partition"] == b"0"
    finally:
        consumer.close()
    expected = {pid.encode(): v for pid, v in values.items() if "POISON" in pid or "GARBAGE" in pid}
    assert letters == expected

"""A performance renamed to its sector id is withdrawn from ClickHouse's current
availability too: the streams worker ends its vendor-founded copy with a tombstone on the
availability topic (issue #13), and an analyst must not find that copy beside the
performance it became. Real Kafka, registry and ClickHouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bus.kafka import make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY
from schemas.models import Availability, AvailabilityStatus
from sinks.clickhouse.connect import connect_clickhouse
from tests.support.clickhouse import drain, fresh_settings

pytestmark = pytest.mark.integration

FOUNDED = "vendor:ticketmatic:leuven|101"  # renamed to its sector id: withdrawn
BACK = "vendor:stager:gent|7"  # withdrawn, then a later fact brought it back
SECTOR = "uit|ev-1#0"  # never withdrawn


def test_a_withdrawn_performance_leaves_current_availability_and_keeps_its_history(
        topics: Settings, registry: Registry, cleanup: list[Settings]) -> None:
    s = fresh_settings(topics, "cw", batch_max_rows=4, batch_max_seconds=0.3)
    cleanup.append(s)
    topic = s.topic_prefix + AVAILABILITY
    encode = AvroSerializer(registry, topic, "availability.avsc")
    now = datetime.now(UTC)

    def state(pid: str, version: int, sold: int) -> tuple[bytes, bytes | None]:
        return pid.encode(), encode(Availability(
            performance_id=pid, capacity=100, sold=sold, remaining=100 - sold,
            status=AvailabilityStatus.AVAILABLE, title="De Kersentuin", venue_name="Grote Zaal",
            city="Leuven", start=now + timedelta(days=1), version=version,
            updated_at=now + timedelta(milliseconds=version)))

    records = [state(FOUNDED, 1, 3), state(SECTOR, 1, 0), state(BACK, 1, 1), state(FOUNDED, 2, 0),
               (FOUNDED.encode(), None), state(SECTOR, 2, 3), (BACK.encode(), None), state(BACK, 5, 2)]
    producer = make_producer(s.kafka)
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(30) == 0

    drain(s)
    client = connect_clickhouse(s.clickhouse)
    current = dict(client.query("SELECT performance_id, sold FROM availability_current FINAL").result_rows)
    assert current == {SECTOR: 3, BACK: 2}, "the renamed copy is gone; the one that came back stays"
    history = dict(client.query("SELECT performance_id, count() FROM availability_history "
                                "GROUP BY performance_id").result_rows)
    assert history == {FOUNDED: 2, SECTOR: 2, BACK: 2}, "history keeps what was shown"

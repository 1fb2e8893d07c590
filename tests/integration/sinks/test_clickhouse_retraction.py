"""After a person undoes a wrong match, the streams worker moves what was counted: a
retraction on the performance a fact was counted on, the fact again on the right one
(``bus.codec.MOVE_HEADER``). The sink must leave the fact under the right performance
only, or every report sums it twice."""

from __future__ import annotations

import pytest

from bus.codec import KIND_HEADER, MOVE_HEADER
from bus.kafka import make_producer
from bus.serde import Registry
from bus.settings import Settings
from bus.topics import FACTS
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.sink import ClickHouseSink
from tests.integration.sinks.test_clickhouse_poison import run_until_settled, ticket, wire
from tests.support.clickhouse import fresh_settings

pytestmark = pytest.mark.integration

WRONG, RIGHT = b"uit|0b4e9a52-6f1c-4c1e-9d2e-3f4a5b6c7d8e#0", b"vendor:ticketmatic:leuven|101"


def test_a_fact_moved_by_an_undo_is_in_clickhouse_under_its_right_performance_only(
        topics: Settings, registry: Registry, cleanup: list[Settings]) -> None:
    s = fresh_settings(topics, "mv")
    cleanup.append(s)
    moved, stays = (wire(registry, s.topic_prefix + FACTS, "ticket_event.avsc", ticket(n)) for n in (1, 2))
    kind = (KIND_HEADER, b"ticket")
    producer = make_producer(s.kafka)
    # counted on the wrong performance through a match ...
    producer.produce(s.topic_prefix + FACTS, key=WRONG, value=moved, headers=[kind])
    producer.produce(s.topic_prefix + FACTS, key=WRONG, value=stays, headers=[kind])
    # ... then the undo: taken back there, counted again on the right one
    producer.produce(s.topic_prefix + FACTS, key=WRONG, value=moved, headers=[kind, (MOVE_HEADER, b"retract/1")])
    producer.produce(s.topic_prefix + FACTS, key=RIGHT, value=moved, headers=[kind, (MOVE_HEADER, b"1")])
    assert producer.flush(30) == 0

    assert run_until_settled(s, ClickHouseSink(s), 180), "the sink did not commit what it read"

    rows = connect_clickhouse(s.clickhouse).query(
        "SELECT fact_id, performance_id FROM ticket_facts FINAL ORDER BY fact_id").result_rows
    assert rows == [("eventix:o1:t1", RIGHT.decode()), ("eventix:o2:t1", WRONG.decode())]

"""After a person undoes a wrong match, the streams worker moves what was counted: a
retraction on the performance a fact was counted on, the fact again on the right one
(``bus.codec.MOVE_HEADER``). The sink must leave the fact under the right performance
only, or every report sums it twice."""

from __future__ import annotations

import pytest

from bus.codec import KIND_HEADER, MOVE_HEADER, TENANT_HEADER, accepted_move
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


def test_a_tenants_fact_is_in_clickhouse_only_once_the_worker_counted_it(
        topics: Settings, registry: Registry, cleanup: list[Settings]) -> None:
    # Issue #15: identity forwards a vendor tenant's fact before the facts agent judged it;
    # while it is held (its performance's venue not known yet) or once refused, no report
    # may show it. The worker writes an accepted copy of each tenant's fact it counted.
    s = fresh_settings(topics, "tn")
    cleanup.append(s)
    topic = s.topic_prefix + FACTS
    counted, held, refused, plain = (wire(registry, topic, "ticket_event.avsc", ticket(n)) for n in (1, 2, 3, 4))
    kind = (KIND_HEADER, b"ticket")
    acme, rival = (TENANT_HEADER, b"acme"), (TENANT_HEADER, b"rival")
    producer = make_producer(s.kafka)
    for value, tenant in ((counted, acme), (held, acme), (refused, rival)):  # as identity forwarded them
        producer.produce(topic, key=RIGHT, value=value, headers=[kind, tenant])
    producer.produce(topic, key=RIGHT, value=plain, headers=[kind])  # a trusted connector's fact
    producer.produce(topic, key=RIGHT, value=counted, headers=[kind, acme, (MOVE_HEADER, accepted_move(None).encode())])
    # a counted fact moved by an undo: its accepted retraction takes it out, a raw one would not count
    producer.produce(topic, key=WRONG, value=held, headers=[kind, acme, (MOVE_HEADER, accepted_move(None).encode())])
    producer.produce(topic, key=WRONG, value=held, headers=[kind, acme, (MOVE_HEADER, b"retract/1")])
    producer.produce(topic, key=WRONG, value=counted, headers=[kind, acme, (MOVE_HEADER, accepted_move(None).encode())])
    producer.produce(topic, key=WRONG, value=counted,
                     headers=[kind, acme, (MOVE_HEADER, accepted_move("retract/1").encode())])
    assert producer.flush(30) == 0

    assert run_until_settled(s, ClickHouseSink(s), 180), "the sink did not commit what it read"

    rows = connect_clickhouse(s.clickhouse).query(
        "SELECT fact_id, performance_id FROM ticket_facts FINAL ORDER BY fact_id, performance_id").result_rows
    assert rows == [("eventix:o1:t1", RIGHT.decode()),   # counted: its accepted copy
                    ("eventix:o2:t1", WRONG.decode()),   # a raw retraction of a tenant's fact is not the worker's word
                    ("eventix:o4:t1", RIGHT.decode())]   # never held, never judged: as it came

"""Issue #11: the ClickHouse sink never stops on a record it cannot use, against real Kafka,
the registry and ClickHouse. A fact or a state record whose time is year 10000 (the
pydantic models refuse it, so it is written with fastavro directly, as a broken producer
would), one from before 1970, an int beyond 32 bits and garbage bytes go to the
dead-letter topic with their original bytes; the good records around them land."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bus.codec import KIND_HEADER
from bus.kafka import make_producer
from bus.serde import Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, FACTS, TICKET_EVENTS, dlq_of
from schemas.models import Availability, Identifier, TicketEvent
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.sink import ClickHouseSink
from tests.support.clickhouse import caught_up, drop_database, fresh_settings, sink_topics
from tests.support.topics import read_all
from tests.support.waiting import wait_until
from tests.support.wire import YEAR_10000_MS, wire

pytestmark = pytest.mark.integration

T = datetime(2026, 3, 14, 19, 30, tzinfo=UTC)
T_MS = int(T.timestamp() * 1000)


@pytest.fixture
def settings(topics: Settings) -> Iterator[Settings]:
    s = fresh_settings(topics, "ckpoison", batch_max_rows=50, batch_max_seconds=0.3)
    yield s
    drop_database(s)


def ticket(n: int) -> dict[str, Any]:
    vendor = Identifier.vendor("eventix", "schouwburg", "ev-1")
    return TicketEvent(fact_id=f"eventix:o{n}:t1", event_time=T, ingested_at=T, source_system="eventix",
                       source_account="schouwburg", performance_key=vendor.key, identifiers=[vendor],
                       event_type="SOLD", quantity=1 + n % 3, ticket_type="NORMAL", price_cents=2000,
                       channel="web").to_avro()


def availability(version: int) -> dict[str, Any]:
    return Availability(performance_id="dip|NL-1|1", capacity=100, sold=version, reserved=0, blocked=0,
                        refunded=0, remaining=100 - version, status="AVAILABLE",
                        uit_booking_availability_type="Available",
                        schema_org_availability="https://schema.org/InStock",
                        last_fact_time=T, updated_at=T, version=version).to_avro()


def run_until_settled(settings: Settings, sink: ClickHouseSink, timeout: float) -> bool:
    """Run ``sink`` until it committed everything (True) or ``timeout`` passed; stop it."""
    sink.setup()
    runner = threading.Thread(target=sink.run, daemon=True)
    runner.start()
    try:
        return bool(wait_until(lambda: caught_up(settings, sink_topics(settings)), timeout, 1.0))
    finally:
        sink.stop()
        runner.join(60)
        assert not runner.is_alive()


def test_facts_and_state_no_role_could_use_are_dead_lettered_and_the_rest_is_written(
        settings: Settings, registry: Registry) -> None:
    s, prefix = settings, settings.topic_prefix
    facts_topic = prefix + TICKET_EVENTS  # the subject facts are registered under
    good_facts = [wire(registry, facts_topic, "ticket_event.avsc", ticket(n)) for n in range(6)]
    year_10000 = wire(registry, facts_topic, "ticket_event.avsc", {**ticket(100), "event_time": YEAR_10000_MS})
    before_1970 = wire(registry, facts_topic, "ticket_event.avsc", {**ticket(101), "event_time": -86_400_000})
    too_many = wire(registry, facts_topic, "ticket_event.avsc", {**ticket(102), "quantity": 2**40})
    bad_facts = [year_10000, before_1970, too_many, b"\x00\x00\x00", b"garbage, not Avro"]
    state_topic = prefix + AVAILABILITY
    good_state = [wire(registry, state_topic, "availability.avsc", availability(v)) for v in (1, 2)]
    bad_state = [wire(registry, state_topic, "availability.avsc",
                      {**availability(3), "last_fact_time": YEAR_10000_MS})]

    producer = make_producer(s.kafka)
    sent_at = T_MS - 60_000  # a record timestamp of its own, to see it kept in the dead letter
    kind = [(KIND_HEADER, b"ticket"), ("trace", b"poison-test")]
    for value in [*good_facts[:3], *bad_facts, *good_facts[3:]]:
        producer.produce(prefix + FACTS, key=b"dip|NL-1|1", value=value, headers=kind, timestamp=sent_at)
    for value in [good_state[0], *bad_state, good_state[1]]:
        producer.produce(state_topic, key=b"dip|NL-1|1", value=value, timestamp=sent_at)
    assert producer.flush(30) == 0

    assert run_until_settled(s, ClickHouseSink(s), 180), \
        "the sink stopped on a poison record instead of moving past it"

    client = connect_clickhouse(s.clickhouse)
    assert client.query("SELECT count(), toUnixTimestamp64Milli(max(event_time)) FROM ticket_facts"
                        ).result_rows == [(len(good_facts), T_MS)]
    assert client.query("SELECT count(), max(version), toUnixTimestamp64Milli(max(last_fact_time)) "
                        "FROM availability_history").result_rows == [(2, 2, T_MS)]

    facts_dlq = read_all(s, dlq_of(FACTS))
    state_dlq = read_all(s, dlq_of(AVAILABILITY))
    assert sorted(m.value() for m in facts_dlq) == sorted(bad_facts)
    assert [m.value() for m in state_dlq] == bad_state
    for m in facts_dlq + state_dlq:
        headers = dict(m.headers())
        assert m.timestamp()[1] == sent_at and m.key() == b"dip|NL-1|1"
        assert headers["errors.source"] == b"sink-clickhouse"
        assert headers["errors.stage"] == b"deserialize"
        assert headers["errors.exception.class"].startswith(b"bus.")
    by_value = {m.value(): dict(m.headers()) for m in facts_dlq}
    assert by_value[year_10000]["errors.field"] == b"event_time"
    assert b"year 10000" in by_value[year_10000]["errors.exception.message"]
    assert by_value[year_10000]["trace"] == b"poison-test"  # the record's own headers are kept
    assert by_value[before_1970]["errors.field"] == b"event_time"
    assert by_value[too_many]["errors.field"] == b"quantity"
    assert dict(state_dlq[0].headers())["errors.field"] == b"last_fact_time"

"""Issue #11: the streams worker never stops on a record, and never publishes a state
record another role could not decode — against the real broker and registry, with a
real worker. A ticket fact of year 10000 (9999-12-31T23:59:59-12:00; the pydantic
models refuse it, so it is written with fastavro directly, as a broken producer would),
one from before 1970, and garbage bytes are dead-lettered with their original bytes;
the good facts around them are counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bus.codec import KIND_HEADER
from bus.kafka import make_producer
from bus.serde import AvroDeserializer, AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, FACTS, PERFORMANCES, TICKET_EVENTS, dlq_of
from schemas.models import Identifier, Performance, TicketEvent, Venue, utcnow
from tests.support.wire import YEAR_10000_MS, epoch_ms, wire

from .harness import Worker, read_raw, wait_until

pytestmark = [pytest.mark.integration]

STEP_S = 180  # bound on each wait for the worker (startup included)


def test_facts_no_role_could_use_are_dead_lettered_and_never_reach_availability(
        streams_settings: Settings, workdir: Path) -> None:
    s, prefix = streams_settings, streams_settings.topic_prefix
    registry = Registry(s.registry)
    now = utcnow()
    dip = Identifier.dip("NL-26-0042-1", 1)
    vendor = Identifier.vendor("eventix", "schouwburg", "ev-42")
    perf = Performance(fact_id="dip|NL-26-0042-1|1|v1", event_time=now - timedelta(hours=1), ingested_at=now,
                       source_system="dip", source_account="nl", performance_key=dip.key,
                       identifiers=[dip, vendor], title="Poison", genre="theater",
                       venue=Venue(id="v1", name="Schouwburg", city="Utrecht"), start=now + timedelta(days=30),
                       capacity=100, status="SCHEDULED")

    def ticket(n: int, quantity: int) -> dict[str, Any]:
        return TicketEvent(fact_id=f"eventix:o{n}:t1", event_time=now - timedelta(minutes=n), ingested_at=now,
                           source_system="eventix", source_account="schouwburg", performance_key=vendor.key,
                           identifiers=[vendor], event_type="SOLD", quantity=quantity, ticket_type="NORMAL",
                           price_cents=2000, channel="web").to_avro()

    tickets_topic = prefix + TICKET_EVENTS
    year_10000 = wire(registry, tickets_topic, "ticket_event.avsc", {**ticket(90, 7), "event_time": YEAR_10000_MS})
    before_1970 = wire(registry, tickets_topic, "ticket_event.avsc", {**ticket(91, 7), "event_time": -1})
    source_bad = [year_10000, before_1970, b"\x00\x00\x00\x00", b"garbage, not Avro"]
    facts_bad = [wire(registry, tickets_topic, "ticket_event.avsc", {**ticket(92, 7), "event_time": YEAR_10000_MS}),
                 b"\x00\xff\xff\xff\xfftruncated"]
    producer = make_producer(s.kafka)
    producer.produce(prefix + PERFORMANCES, key=dip.key.encode(),
                     value=AvroSerializer(registry, prefix + PERFORMANCES, "performance.avsc")(perf))
    sent_at = epoch_ms(now) - 5_000
    for value in [wire(registry, tickets_topic, "ticket_event.avsc", ticket(1, 2)), *source_bad,
                  wire(registry, tickets_topic, "ticket_event.avsc", ticket(2, 3))]:
        producer.produce(tickets_topic, key=vendor.key.encode(), value=value, timestamp=sent_at,
                         headers=[("trace", b"poison-test")])
    for value in [*facts_bad, wire(registry, tickets_topic, "ticket_event.avsc", ticket(3, 1))]:
        producer.produce(prefix + FACTS, key=dip.key.encode(), value=value, timestamp=sent_at,
                         headers=[(KIND_HEADER, b"ticket")])
    assert producer.flush(30) == 0

    worker = Worker("w1", s, workdir / "w1", workdir / "w1.log").start()
    reader = AvroDeserializer(registry, "availability.avsc")  # as the gateway reads it

    def availability() -> list[dict[str, Any]]:
        return [r for raw in read_raw(s, [AVAILABILITY]) if (r := reader(raw.value)) is not None]

    try:
        published = wait_until(lambda: [r for r in availability() if r["sold"] == 6], STEP_S)
        assert published, f"the good facts (2 + 3 + 1 seats) were not counted: {availability()[-1:]}"
        assert worker.alive(), "the worker stopped on a poison record"
        source_dlq = wait_until(lambda: read_raw(s, [dlq_of(TICKET_EVENTS)]), 30)
        facts_dlq = wait_until(lambda: read_raw(s, [dlq_of(FACTS)]), 30)
    finally:
        worker.stop()

    records = availability()
    assert records and all(r["last_fact_time"] < datetime(2300, 1, 1, tzinfo=UTC) for r in records)
    assert max(r["sold"] for r in records) == 6  # the refused 7-seat facts never counted
    assert sorted(r.value for r in source_dlq) == sorted(source_bad)
    assert sorted(r.value for r in facts_dlq) == sorted(facts_bad)
    for r in source_dlq + facts_dlq:
        h = dict(r.headers or [])
        assert h["errors.source"] == b"streams" and h["errors.stage"] == b"decode"
        assert h["errors.topic"].decode().startswith(prefix)
        assert h["errors.partition"] and h["errors.offset"] and h["errors.exception.message"]
    by_value = {r.value: dict(r.headers or []) for r in source_dlq}
    assert by_value[year_10000]["errors.field"] == b"event_time"
    assert b"year 10000" in by_value[year_10000]["errors.exception.message"]
    assert by_value[year_10000]["trace"] == b"poison-test"  # the record's own headers are kept
    assert by_value[before_1970]["errors.field"] == b"event_time"

"""Acceptance (#13 item 1): a wrong link undone by a person restores both performances'
counts, on the real broker with a real worker.

A vendor's event (Ticketmatic, source key K) was linked by a person to performance A;
its sales were counted there. The link was wrong: K is performance B. The undo's
re-route record (``streams.release``, kind ``reroute``) moves what was counted: A shows
only its own sales again, B shows K's, and a fact of K that comes later goes to B. The
same re-route published twice, and the whole input replayed from the start, count
nothing twice; a broken re-route record is dead-lettered and moves nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

from bus.codec import KIND_HEADER
from bus.kafka import make_admin, make_consumer, make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, FACTS, IDENTITY, PERFORMANCES, RELEASE, TICKET_EVENTS, dlq_of
from schemas.models import Identifier, Performance, TicketEvent, Venue, utcnow

from .harness import Worker, latest, read_raw, wait_until, watermarks

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

STEP_S = 180
A = Identifier.dip("NL-26-0101-1", 1)
B = Identifier.dip("NL-26-0102-1", 1)
K = Identifier.vendor("ticketmatic", "acme", "101")  # the vendor's event, wrongly linked to A
A_BOX = Identifier.vendor("eventix", "schouwburg", "a-1")  # A's own ticket shop, linked by identifier


class Bus:
    """What the test publishes, as the connectors and the undo command would."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.registry = Registry(settings.registry)
        self.producer = make_producer(settings.kafka)
        self.now = utcnow()
        self.serializers: dict[str, AvroSerializer] = {}

    def send(self, topic: str, key: str, value: bytes | None, kind: str | None = None) -> None:
        self.producer.produce(self.s.topic_prefix + topic, key=key.encode(), value=value,
                              headers=[(KIND_HEADER, kind.encode())] if kind else None)
        assert self.producer.flush(30) == 0

    def avro(self, topic: str, schema: str, record: Any) -> bytes:
        ser = self.serializers.get(topic)
        if ser is None:
            ser = self.serializers[topic] = AvroSerializer(self.registry, self.s.topic_prefix + topic, schema)
        value = ser(record)
        assert value is not None
        return value

    def link(self, ident: Identifier, performance: Identifier, reason: str) -> None:
        self.send(IDENTITY, ident.key, self.avro(IDENTITY, "identity_link.avsc", {
            "namespace": ident.namespace, "value": ident.value, "performance_id": performance.key,
            "learned_from": f"test:{reason}", "event_time": self.now, "reason": reason,
            "score": None, "decided_by": "tester" if reason == "person" else None}))

    def performance(self, ident: Identifier, title: str) -> None:
        perf = Performance(fact_id=f"{ident.key}|v1", event_time=self.now - timedelta(hours=1),
                           ingested_at=self.now, source_system="dip", source_account="nl",
                           performance_key=ident.key, identifiers=[ident], title=title, genre="theater",
                           venue=Venue(id="v1", name="Schouwburg", city="Utrecht"),
                           start=self.now + timedelta(days=20), capacity=100, status="SCHEDULED")
        self.send(PERFORMANCES, ident.key, self.avro(PERFORMANCES, "performance.avsc", perf))

    def ticket(self, ident: Identifier, fact_id: str, quantity: int, event_type: str = "SOLD") -> None:
        system, account = ident.namespace.split(":")[1:]
        fact = TicketEvent(fact_id=fact_id, event_time=self.now - timedelta(minutes=5), ingested_at=self.now,
                           source_system=system, source_account=account, performance_key=ident.key,
                           identifiers=[ident], event_type=event_type, quantity=quantity,
                           ticket_type="NORMAL", price_cents=2000, channel="web")
        self.send(TICKET_EVENTS, ident.key, self.avro(TICKET_EVENTS, "ticket_event.avsc", fact), "ticket")

    def reroute(self, key: Identifier, to: Identifier) -> None:
        self.send(RELEASE, key.key, json.dumps({"to": to.key, "keys": [key.key]}).encode(), "reroute")


def seats(settings: Settings) -> dict[str, tuple[int, int, int, str]]:
    """(sold, refunded, remaining, status) per performance, as an app reading the topic sees them."""
    return {pid: (r["sold"], r["refunded"], r["remaining"], r["status"])
            for pid, r in latest(settings, AVAILABILITY, "availability.avsc").items() if r}


def settled(settings: Settings, want: dict[str, tuple[int, int, int, str]]) -> bool:
    got = seats(settings)
    return all(got.get(pid) == v for pid, v in want.items())


def group_of(settings: Settings) -> str:
    return settings.streams.app_id + (f"-{settings.topic_prefix.strip('.')}" if settings.topic_prefix else "")


def committed_to_end(settings: Settings, *topics: str) -> bool:
    """Has the worker committed every record of ``topics``, in this order (each was handled,
    and what it produced is on the broker)?"""
    return all(_committed(settings, topic) for topic in topics)


def _committed(settings: Settings, topic: str) -> bool:
    admin = make_admin(settings.kafka)
    name = settings.topic_prefix + topic
    parts = admin.list_topics(name, timeout=10).topics[name].partitions
    c = make_consumer(settings.kafka, "undo-watermarks")
    try:
        ends = {p: watermarks(c, name, p)[1] for p in parts}
    finally:
        c.close()
    req = ConsumerGroupTopicPartitions(group_of(settings), [TopicPartition(name, p) for p in parts])
    result = next(iter(admin.list_consumer_group_offsets([req]).values())).result(timeout=20)
    done = {tp.partition: tp.offset for tp in result.topic_partitions}
    return all(done.get(p, -1) >= end for p, end in ends.items() if end > 0)


def rewind_to_start(settings: Settings) -> int:
    """Every input topic of the (stopped) worker's group back to its first record."""
    admin = make_admin(settings.kafka)
    group = group_of(settings)
    req = ConsumerGroupTopicPartitions(group)
    result = next(iter(admin.list_consumer_group_offsets([req]).values())).result(timeout=20)
    inputs = [TopicPartition(tp.topic, tp.partition, 0) for tp in result.topic_partitions
              if "changelog" not in tp.topic]
    for fut in admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, inputs)]).values():
        fut.result(timeout=20)
    return len(inputs)


def test_undoing_a_wrong_person_made_link_restores_both_performances_counts(
        streams_settings: Settings, workdir: Path) -> None:
    s = streams_settings
    bus = Bus(s)
    a, b = A.key, B.key
    for ident in (A, B):
        bus.link(ident, ident, "identifier")
    bus.link(A_BOX, A, "identifier")
    bus.link(K, A, "person")  # the wrong decision
    bus.performance(A, "Hamlet")
    bus.performance(B, "Macbeth")
    worker = Worker("w1", s, workdir / "state", workdir / "w1.log").start()
    try:
        bus.ticket(A_BOX, "eventix:o1:t1", 10)  # A's own sales
        for fact_id, quantity, kind in (("tm:o1", 3, "SOLD"), ("tm:o2", 2, "SOLD"), ("tm:o2r", 1, "REFUNDED")):
            bus.ticket(K, fact_id, quantity, kind)
        before = {a: (14, 1, 86, "AVAILABLE"), b: (0, 0, 100, "AVAILABLE")}
        assert wait_until(lambda: settled(s, before), STEP_S, interval=1), seats(s)

        bus.send(RELEASE, K.key, b'{"to": ', "reroute")  # a broken undo: dead-lettered, nothing moves
        bus.reroute(K, B)  # a person undoes K -> A: K is B
        after = {a: (10, 0, 90, "AVAILABLE"), b: (4, 1, 96, "AVAILABLE")}
        assert wait_until(lambda: settled(s, after), STEP_S, interval=1), seats(s)

        bus.ticket(K, "tm:o3", 1)  # a later sale of K goes to B before the identity topic says so
        after = {a: (10, 0, 90, "AVAILABLE"), b: (5, 1, 95, "AVAILABLE")}
        assert wait_until(lambda: settled(s, after), STEP_S, interval=1), seats(s)
        bus.link(K, B, "person")  # the link the undo publishes, which every worker keeps

        bus.reroute(K, B)  # the same undo published again
        assert wait_until(lambda: committed_to_end(s, RELEASE, FACTS), STEP_S, interval=1)
        assert seats(s) == after, "a re-published re-route counted again"
        assert worker.alive()
        [dead] = read_raw(s, [dlq_of(RELEASE)])
        assert dead.value == b'{"to": ' and b"not JSON" in dict(dead.headers or [])["errors.exception.message"]
    finally:
        worker.stop()

    assert rewind_to_start(s) > 0
    worker = Worker("w1", s, workdir / "state", workdir / "w1.log").start()
    try:
        bus.ticket(K, "tm:o4", 5)  # after the replay, so its count shows the replay is done
        after = {a: (10, 0, 90, "AVAILABLE"), b: (10, 1, 90, "AVAILABLE")}
        assert wait_until(lambda: settled(s, after), STEP_S, interval=1), seats(s)
        assert wait_until(lambda: committed_to_end(s, TICKET_EVENTS, RELEASE, FACTS), STEP_S, interval=1)
        assert seats(s) == after, "replaying the input from the start counted the moved facts twice"
        assert worker.alive()
    finally:
        worker.stop()

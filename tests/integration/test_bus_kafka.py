"""Topics and consumer groups against the real Kafka broker."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import ConfigResource

from bus.kafka import make_admin, make_consumer, make_producer
from bus.serde import AvroDeserializer, AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, CATALOG, TICKET_EVENTS, apply_catalog
from schemas.models import Availability, AvailabilityStatus, utcnow

pytestmark = pytest.mark.integration


def _configs(settings: Settings, name: str) -> dict[str, str]:
    admin = make_admin(settings.kafka)
    res = ConfigResource(ConfigResource.Type.TOPIC, name)
    entries = admin.describe_configs([res])[res].result(timeout=10)
    return {k: v.value for k, v in entries.items()}


def test_topics_are_created_with_the_catalogs_configs(topics: Settings) -> None:
    admin = make_admin(topics.kafka)
    meta = admin.list_topics(timeout=10)
    for t in CATALOG:
        name = topics.topic_prefix + t.name
        assert name in meta.topics, f"{name} missing"
        assert len(meta.topics[name].partitions) == t.partitions
    conf = _configs(topics, topics.topic_prefix + AVAILABILITY)
    assert conf["cleanup.policy"] == "compact"
    conf = _configs(topics, topics.topic_prefix + TICKET_EVENTS)
    assert conf["cleanup.policy"] == "delete"
    assert conf["retention.ms"] == str(400 * 24 * 3600 * 1000)


def test_applying_the_catalog_again_changes_nothing_and_repairs_drift(topics: Settings) -> None:
    admin = make_admin(topics.kafka)
    again = apply_catalog(admin, topics.topic_prefix)
    assert {c.action for c in again} == {"unchanged"}
    # An operator changed a config by hand: apply brings it back.
    name = topics.topic_prefix + AVAILABILITY
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry

    res = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=[
        ConfigEntry("cleanup.policy", "delete", incremental_operation=AlterConfigOpType.SET)])
    admin.incremental_alter_configs([res])[res].result(timeout=10)
    # KRaft: the controller applies a config at once, the broker's view follows shortly.
    deadline = time.monotonic() + 30
    while _configs(topics, name)["cleanup.policy"] != "delete" and time.monotonic() < deadline:
        time.sleep(0.5)
    changes = {c.topic: c for c in apply_catalog(admin, topics.topic_prefix)}
    assert changes[name].action == "updated"
    deadline = time.monotonic() + 30
    while _configs(topics, name)["cleanup.policy"] != "compact" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _configs(topics, name)["cleanup.policy"] == "compact"


def test_consumer_group_commits_offsets_that_a_restart_resumes_from(
        topics: Settings, registry: Registry) -> None:
    # A topic of its own: other tests put deliberately bad records on the session's topics.
    topics = topics.model_copy(update={"topic_prefix": f"cg{uuid.uuid4().hex[:6]}."})
    apply_catalog(make_admin(topics.kafka), topics.topic_prefix)
    topic = topics.topic_prefix + AVAILABILITY
    ser = AvroSerializer(registry, topic, "availability.avsc")
    producer = make_producer(topics.kafka)
    run = uuid.uuid4().hex[:6]
    for i in range(10):
        a = Availability(performance_id=f"{run}-{i}", capacity=100, sold=i, remaining=100 - i,
                         status=AvailabilityStatus.AVAILABLE, updated_at=utcnow())
        producer.produce(topic, key=a.performance_id, value=ser(a))
    assert producer.flush(20) == 0
    group = f"g-{run}"
    de = AvroDeserializer(registry, "availability.avsc")

    def consume(limit: int) -> list[str]:
        c = make_consumer(topics.kafka, group)
        c.subscribe([topic])
        got: list[str] = []
        deadline = time.monotonic() + 30
        try:
            while len(got) < limit and time.monotonic() < deadline:
                msg = c.poll(0.5)
                if msg is None or msg.error():
                    continue
                rec = de(msg.value())
                if rec and rec["performance_id"].startswith(run):
                    got.append(rec["performance_id"])
                c.store_offsets(msg)
                if len(got) == limit:
                    break
            c.commit(asynchronous=False)
        finally:
            c.close()
        return got

    first = consume(4)
    assert len(first) == 4
    rest = consume(6)
    assert sorted(first + rest) == sorted(f"{run}-{i}" for i in range(10))
    committed = make_consumer(topics.kafka, group).committed(
        [TopicPartition(topic, p) for p in range(4)], timeout=10)
    assert sum(max(tp.offset, 0) for tp in committed) >= 10

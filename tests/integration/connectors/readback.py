"""Reading back what a connector published: every record of a topic up to the end
offsets seen when the read starts (records that arrive later are left for the next
read, so a connector still publishing never confuses the reader)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaException, TopicPartition

from bus.kafka import make_consumer
from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import PERFORMANCES
from connectors.fakes.calendars import read_back

__all__ = ["end_offsets", "published_performances", "read_topic"]


def end_offsets(consumer: Any, name: str, timeout: float = 30.0) -> dict[int, int]:
    """High watermark of each non-empty partition (retried: new topics elect leaders)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            ends = {}
            for p in consumer.list_topics(name, timeout=10).topics[name].partitions:
                lo, hi = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                if hi > lo:
                    ends[p] = hi
            return ends
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def read_topic(settings: Settings, topic: str, timeout: float = 60.0) -> list[Any]:
    """Every message on a (prefixed) topic, from the beginning to its end offsets now."""
    name = settings.topic_prefix + topic
    consumer = make_consumer(settings.kafka, f"test-read-{uuid.uuid4().hex[:8]}")
    try:
        ends = end_offsets(consumer, name)
        consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in ends])
        out, deadline = [], time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            end = ends.get(msg.partition())
            if end is None or msg.offset() >= end:
                continue  # produced after we looked
            out.append(msg)
            if msg.offset() >= end - 1:
                ends.pop(msg.partition())
        assert not ends, f"{name} not read to its end within {timeout}s"
        return out
    finally:
        consumer.close()


def published_performances(settings: Settings, registry: Registry, account: str) -> list[dict[str, Any]]:
    """Every performance on calendar.performances that ``account`` published, decoded."""
    decode = AvroDeserializer(registry, "performance.avsc")
    return [r.value for r in read_back(settings, PERFORMANCES, decode)
            if r.value["source_account"] == account]

"""Kafka helpers of the bench: topics under a prefix, fast produce of pre-encoded
records, end offsets (retried while a fresh topic's leader is unknown), and the
timestamps of records at given offsets (how the poller's facts are timed)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from bus.kafka import ConfigValue, make_admin, make_consumer, make_producer
from bus.serde import Registry
from bus.settings import Settings
from bus.topics import apply_catalog
from schemas import load_schema

__all__ = ["Offsets", "bench_consumer", "bulk_producer", "catalog", "high_watermark", "produce_all",
           "schema_id"]


def catalog(settings: Settings) -> None:
    """Create the topic catalog under ``settings.topic_prefix``."""
    apply_catalog(make_admin(settings.kafka), settings.topic_prefix, settings.kafka.replication_factor)


def schema_id(registry: Registry, topic: str, schema_file: str) -> int:
    """Register ``schema_file`` for ``topic``'s values and return its id."""
    return registry.register(f"{topic}-value", load_schema(schema_file))


def bulk_producer(settings: Settings, linger_ms: int = 20) -> Producer:
    """The connectors' producer (idempotent, acks=all, lz4), with larger batches."""
    return make_producer(settings.kafka, linger_ms=linger_ms, batch_size=262_144,
                         queue_buffering_max_messages=500_000)


def produce_all(producer: Producer, topic: str, keys: Sequence[bytes], values: Sequence[bytes],
                headers: list[tuple[str, str | bytes | None]] | None = None,
                timeout: float = 120.0) -> float:
    """Produce every record, wait for every acknowledgement; returns the send start time
    (epoch seconds). Raises on undelivered records."""
    started = time.time()
    produce = producer.produce
    for k, v in zip(keys, values, strict=True):
        while True:
            try:
                produce(topic, v, k, headers=headers)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(timeout)
    if left:
        raise RuntimeError(f"{left} records to {topic} not acknowledged within {timeout:.0f} s")
    return started


def bench_consumer(settings: Settings, **extra: ConfigValue) -> Consumer:
    """A throwaway consumer (own group, reads uncommitted, short fetch waits)."""
    conf: dict[str, ConfigValue] = {"isolation_level": "read_uncommitted", "fetch_wait_max_ms": 10}
    conf.update(extra)
    return make_consumer(settings.kafka, f"bench-{uuid.uuid4().hex[:8]}", **conf)


def high_watermark(consumer: Consumer, topic: str, partition: int, timeout: float = 15.0) -> int:
    """The end offset of one partition, retried (bounded) while a fresh topic's leader is
    not known yet (NOT_LEADER_FOR_PARTITION, UNKNOWN_TOPIC_OR_PART)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return int(consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10,
                                                      cached=False)[1])
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class Offsets:
    """End offsets of one topic, and the timestamps of its records at given offsets."""

    def __init__(self, settings: Settings, topic: str) -> None:
        self.topic = topic
        self._c = bench_consumer(settings)
        meta = self._c.list_topics(topic, timeout=10).topics[topic]
        self.partitions = sorted(meta.partitions)

    def ends(self) -> dict[int, int]:
        return {p: high_watermark(self._c, self.topic, p) for p in self.partitions}

    def total(self) -> int:
        return sum(self.ends().values())

    def timestamps_at(self, offsets: dict[int, int], timeout: float = 10.0) -> dict[int, int]:
        """Partition -> timestamp (ms) of the record at that offset."""
        want = {p: o for p, o in offsets.items() if o >= 0}
        if not want:
            return {}
        self._c.assign([TopicPartition(self.topic, p, o) for p, o in want.items()])
        got: dict[int, int] = {}
        deadline = time.monotonic() + timeout
        while len(got) < len(want) and time.monotonic() < deadline:
            msg = self._c.poll(0.2)
            if msg is None or msg.error():
                continue
            p = msg.partition() or 0
            if p in want and p not in got and (msg.offset() or 0) >= want[p]:
                got[p] = msg.timestamp()[1]
        self._c.unassign()
        return got

    def last_timestamp(self, ends: dict[int, int] | None = None) -> int:
        """Timestamp (ms) of the newest record over every partition."""
        ends = ends or self.ends()
        stamps = self.timestamps_at({p: e - 1 for p, e in ends.items() if e > 0})
        return max(stamps.values()) if stamps else 0

    def close(self) -> None:
        self._c.close()

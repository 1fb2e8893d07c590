"""The sink's Kafka positions: commit after a confirmed batch, pause and resume while
ClickHouse is away, rewind records that must come again, and consumer lag.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from bus.log import get_logger
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.metrics import SinkMetrics

__all__ = ["Positions"]

log = get_logger("sinks.clickhouse")

_GONE = (KafkaError.ILLEGAL_GENERATION, KafkaError.UNKNOWN_MEMBER_ID,
         KafkaError.REBALANCE_IN_PROGRESS, KafkaError._STATE)


class Positions:
    """Where the sink's consumer stands, and the few things done to it.

    Args:
        consumer: the sink's consumer (auto commit and auto offset store off).
        metrics: commits, commit failures and lag go here.
        short: unprefixed topic name for metric labels.

    """

    def __init__(self, consumer: Consumer, metrics: SinkMetrics, short: Callable[[str], str]) -> None:
        self.consumer = consumer
        self.metrics = metrics
        self.short = short
        self.assigned: set[tuple[str, int]] = set()
        self._lag_at = 0.0

    def commit(self, batch: Batch) -> bool:
        """Store and synchronously commit ``last + 1`` of every partition in ``batch`` that
        is still ours. A failed commit is logged, not raised: the records come again and
        the inserts are idempotent.
        """
        offsets = [TopicPartition(t, p, o) for t, p, o in batch.next_offsets()
                   if (t, p) in self.assigned]
        if not offsets:
            return False
        for attempt in range(1, 4):
            try:
                self.consumer.store_offsets(offsets=offsets)
                self.consumer.commit(asynchronous=False)
                self.metrics.commits.inc()
                return True
            except KafkaException as exc:
                err = exc.args[0] if exc.args else None
                code = err.code() if isinstance(err, KafkaError) else None
                if code == KafkaError._NO_OFFSET:
                    return True
                self.metrics.commit_failures.inc()
                log.warning("offset commit failed; the batch will be re-read and deduplicated",
                            extra={"attempt": attempt, "error": str(exc)})
                if code in _GONE:
                    return False
                time.sleep(0.5 * attempt)
        return False

    def pause(self) -> list[TopicPartition]:
        parts = list(self.consumer.assignment())
        if parts:
            self.consumer.pause(parts)
        return parts

    def resume(self, parts: list[TopicPartition]) -> None:
        current = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        keep = [tp for tp in parts if (tp.topic, tp.partition) in current]
        if keep:
            self.consumer.resume(keep)

    def rewind(self, messages: Iterable[Message]) -> None:
        """Seek each partition back to the earliest of ``messages`` so they come again."""
        earliest: dict[tuple[str, int], int] = {}
        for m in messages:
            if m.error() is None:
                tp, offset = (m.topic() or "", m.partition() or 0), m.offset() or 0
                earliest[tp] = min(earliest.get(tp, offset), offset)
        for (topic, partition), offset in earliest.items():
            if (topic, partition) in self.assigned:
                self.consumer.seek(TopicPartition(topic, partition, offset))

    def update_lag(self, every_s: float = 2.0) -> None:
        """Lag in records per partition: cached high watermark minus position."""
        now = time.monotonic()
        if now - self._lag_at < every_s or not self.assigned:
            return
        self._lag_at = now
        try:
            positions = self.consumer.position([TopicPartition(t, p) for t, p in self.assigned])
        except KafkaException:
            return
        for tp in positions:
            try:
                _, high = self.consumer.get_watermark_offsets(tp, cached=True)
            except KafkaException:
                continue
            if high is None or high < 0 or tp.offset < 0:
                continue
            self.metrics.lag.labels(self.short(tp.topic), str(tp.partition)).set(max(0, high - tp.offset))

"""Consuming: Kafka records into the open batch as rows, skips or dead letters.

A record the sink cannot decode or map is the record's fault: it becomes a dead letter
(sent with the batch, before its offsets are committed). A registry that cannot be
reached is nobody's fault: taking stops there, and the caller rewinds the records not
taken so they come again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from confluent_kafka import KafkaError, KafkaException, Message

from bus.errors import RetriableError
from bus.log import get_logger
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.decode import RecordDecoder, Skip
from sinks.clickhouse.dlq import consumed, letter_of
from sinks.clickhouse.errors import MappingError
from sinks.clickhouse.metrics import SinkMetrics

__all__ = ["Intake", "Interrupted"]

log = get_logger("sinks.clickhouse")


class Interrupted(NamedTuple):
    """Taking stopped at ``rest[0]``: the registry is away (``error``)."""

    rest: list[Message]
    error: RetriableError


class Intake:
    """Turns consumed records into the open batch's content.

    Args:
        decoder: records -> rows.
        metrics: records in, skips.
        short: unprefixed topic name for metric labels.

    """

    def __init__(self, decoder: RecordDecoder, metrics: SinkMetrics,
                 short: Callable[[str], str]) -> None:
        self.decoder = decoder
        self.metrics = metrics
        self.short = short
        self._seen: dict[str, int] = {}  # records read per (prefixed) topic since last counted

    def take(self, batch: Batch, messages: list[Message]) -> Interrupted | None:
        """Add ``messages`` to ``batch``, in order; None when all were taken.

        Raises:
            KafkaException: the consumer reported a fatal error.

        """
        try:
            for i, msg in enumerate(messages):
                try:
                    self._take(batch, msg)
                except RetriableError as exc:  # the registry is away: not the record's fault
                    return Interrupted(messages[i:], exc)
            return None
        finally:
            self._count_seen()

    def _count_seen(self) -> None:
        for topic, n in self._seen.items():
            self.metrics.records_in.labels(self.short(topic)).inc(n)
        self._seen.clear()

    def _take(self, batch: Batch, msg: Message) -> None:
        err = msg.error()
        if err is not None:
            if err.fatal():
                raise KafkaException(err)
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error", extra={"error": str(err)})
            return
        rec = consumed(msg)
        topic, partition, offset = rec.topic, rec.partition, rec.offset
        try:
            out = self.decoder.decode(topic, rec.key, rec.value, partition, offset, rec.timestamp_ms)
        except RetriableError:
            raise
        except Exception as exc:  # bad input: dead-letter it, never crash, never drop silently
            stage = "transform" if isinstance(exc, MappingError) else "deserialize"
            batch.add_dead(letter_of(rec, exc, stage))
            batch.mark(topic, partition, offset)
            log.warning("record refused; sent to the dead-letter topic",
                        extra={"topic": topic, "partition": partition, "offset": offset,
                               "stage": stage, "error": str(exc)[:300]})
            self._seen[topic] = self._seen.get(topic, 0) + 1
            return
        self._seen[topic] = self._seen.get(topic, 0) + 1
        batch.mark(topic, partition, offset)
        if isinstance(out, Skip):
            self.metrics.skipped.labels(self.decoder.unprefixed(topic), out.reason).inc()
            return
        batch.add(out, rec)

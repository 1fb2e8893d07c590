"""The ClickHouse sink: canonical facts and derived state from Kafka into ClickHouse.

One consumer group reads ``participation.facts`` (raw facts keyed by canonical
performance id), the derived topics and optionally ``participation.unmatched``. The
loop has three jobs, one module each: consume (``consume``: records into a
:class:`Batch` bounded by rows and seconds), write with retry (``write``, ``retry``:
each table's rows in one insert with a deduplication token per table per batch, rows
ClickHouse refuses dead-lettered, then the dead letters; ClickHouse down: partitions
paused and the write retried with bounded exponential backoff) and commit (``commit``:
a writer thread writes one batch while the loop reads the next; its offsets are stored
and committed, in order, only after its write was acknowledged). Rebalances do what the
loop's one state (``state``) says. Every table is a replacing engine keyed by fact id or
version, so a batch written again after a crash (insert confirmed, commit lost) is no
double.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from confluent_kafka import Consumer, TopicPartition
from prometheus_client import CollectorRegistry

from bus.errors import ConfigError, RetriableError
from bus.kafka import make_consumer, make_producer
from bus.log import get_logger
from bus.metrics import Health
from bus.serde import Registry
from bus.settings import Settings
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.commit import Commits
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.consume import Intake
from sinks.clickhouse.decode import RecordDecoder
from sinks.clickhouse.dlq import DeadLetterWriter
from sinks.clickhouse.errors import MigrationError
from sinks.clickhouse.hooks import SinkHooks
from sinks.clickhouse.metrics import SinkMetrics
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.positions import Positions
from sinks.clickhouse.retry import Retry, backoff_delay
from sinks.clickhouse.state import LoopState
from sinks.clickhouse.write import BatchWriter

__all__ = ["ClickHouseSink"]

log = get_logger("sinks.clickhouse")

_CONSUME_MAX = 5000
_GC_GEN0 = 50_000  # allocations between young collections while running (default 700)
_INFLIGHT_POLL_S = 0.05  # longest consume() while a batch is in flight, so its commit is prompt


class ClickHouseSink:
    """Writes the bus's facts and state to ClickHouse, exactly once in effect.

    Lifecycle: ``setup()`` connects to ClickHouse (waiting while it is down), applies
    migrations and subscribes; ``run()`` consumes and flushes until ``stop()``, then
    flushes and commits the open batch and calls ``close()``; ``stop()`` only signals
    (safe from a signal handler); ``close()`` releases the consumer, producer and client.

    Args:
        settings: all settings (kafka, registry, clickhouse, sink, topic_prefix).
        registry: metrics registry (a fresh one per test).
        health: readiness checks are added here (served by ``MetricsServer``).
        with_unmatched: also record parked facts from ``participation.unmatched``.
        apply_migrations: run pending migrations in ``setup()``.
        hooks: test hooks (:class:`SinkHooks`); none in production.

    """

    def __init__(self, settings: Settings, *, registry: CollectorRegistry | None = None,
                 health: Health | None = None, with_unmatched: bool = True,
                 apply_migrations: bool = True, hooks: SinkHooks | None = None) -> None:
        self.settings = settings
        self.metrics = SinkMetrics(registry or CollectorRegistry())
        self.health = health or Health()
        self.group_id = settings.sink.group_id
        self.with_unmatched = with_unmatched
        self.apply_migrations = apply_migrations
        self.hooks = hooks or SinkHooks()
        self._state = LoopState()
        self._writer = BatchWriter(self.metrics, self.group_id, self._short)
        self._consumer: Consumer | None = None
        self._positions: Positions | None = None
        self._decoder: RecordDecoder | None = None
        self._intake: Intake | None = None
        self._commits: Commits | None = None
        self._batch = Batch()
        self.health.add_check("clickhouse", lambda: self._writer.clickhouse_ok)
        self.health.add_check("running", lambda: not self._state.stopping)

    @property
    def client(self) -> Any:
        """The ClickHouse client (connected in ``setup()``)."""
        return self._writer.client

    @client.setter
    def client(self, value: Any) -> None:
        self._writer.client = value

    # -- lifecycle ---------------------------------------------------------------------
    def setup(self) -> None:
        """Connect (waiting for ClickHouse), migrate, subscribe.

        Raises:
            MigrationError: the database schema disagrees with the migration files.
            ConfigError: a setting is wrong.
            RetriableError: stopped before ClickHouse came up.

        """
        self.client = self._connect()
        s = self.settings
        self._decoder = RecordDecoder(Registry(s.registry), s.topic_prefix)
        self._intake = Intake(self._decoder, self.metrics, self._short)
        self._writer.dlq = DeadLetterWriter(make_producer(s.kafka), self.group_id)
        # eager "range" assignment: a revoke takes every partition, so an abandoned batch
        # is always re-read from the committed offsets by whoever gets them next
        self._consumer = make_consumer(s.kafka, self.group_id, partition_assignment_strategy="range")
        self._positions = Positions(self._consumer, self.metrics, self._short)
        retry = Retry(self._state, self._writer, self._positions, self.metrics, s.sink.backoff_max_s)
        self._commits = Commits(self._writer, retry, self._positions, self.metrics, self.hooks)
        topics = self._decoder.topics(self.with_unmatched)
        self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke,
                                 on_lost=self._on_lost)
        log.info("sink subscribed", extra={"topics": topics, "group_id": self.group_id})

    def run(self) -> None:
        """Consume, batch and flush until :meth:`stop`; then flush, commit and close."""
        assert self._consumer is not None, "call setup() first"
        # Up to two batches of rows live until inserted; at the default threshold (700) the
        # collector runs every few hundred records and keeps rescanning them as they age:
        # ~20% of the decoding time (measured). The writer collects after each batch.
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], _GC_GEN0), *thresholds[1:])
        try:
            while not self._state.stopping:
                self._step()
            self._flush(final=True)
        finally:
            gc.set_threshold(*thresholds)
            self.close()

    def stop(self) -> None:
        self._state.stop()

    def close(self) -> None:
        if self._commits is not None and self._commits.drain(len(self._batch)):
            self._batch = Batch()
        if self._consumer is not None:
            try:
                self._consumer.close()  # a revoke here may still flush an open batch
            finally:
                self._consumer = self._positions = None
        if self._commits is not None:
            self._commits.close()
            self._commits = None
        if self._writer.dlq is not None:
            self._writer.dlq.close()
            self._writer.dlq = None
        if self.client is not None:
            try:
                self.client.close()
            finally:
                self.client = None

    def write(self, batch: Batch, written: set[str] | None = None) -> None:
        """One attempt at writing ``batch`` (see :meth:`BatchWriter.write`)."""
        self._writer.write(batch, written)

    # -- the loop ----------------------------------------------------------------------
    def _step(self) -> None:
        consumer, intake, commits = self._consumer, self._intake, self._commits
        assert consumer is not None and intake is not None and commits is not None
        s = self.settings.sink
        # commit as soon as the write is back, not at the next flush; after an abandoned
        # batch (stopping) read nothing more: nothing read after it may be committed
        if commits.done and not self._settle():
            return
        batch = self._batch
        wait = s.batch_max_seconds
        if batch.started is not None:
            wait = s.batch_max_seconds - (time.monotonic() - batch.started)
        if commits.in_flight:
            wait = min(wait, _INFLIGHT_POLL_S)
        room = max(1, min(_CONSUME_MAX, s.batch_max_rows - len(batch)))
        messages = consumer.consume(num_messages=room, timeout=min(0.5, max(0.01, wait)))
        stalled = intake.take(batch, messages)
        if stalled is not None:  # the registry is away: read those records again later
            self._pos().rewind(stalled.rest)
            self._flush()
            delay = min(stalled.error.retry_after * 2, s.backoff_max_s)
            log.warning("cannot decode now; waiting",
                        extra={"error": str(stalled.error), "wait_s": delay})
            self.metrics.backoff_seconds.inc(delay)
            self._state.sleep(delay)
            return
        if self._batch.due(s.batch_max_rows, s.batch_max_seconds):
            self._flush()
        self._pos().update_lag()

    def _flush(self, *, final: bool = False, in_revoke: bool = False) -> bool:
        """Settle the batch in flight, then hand the open batch to the writer thread;
        when ``final`` or ``in_revoke`` settle that one too. False if a batch was
        abandoned: then the open batch is dropped and Kafka re-delivers those records.
        """
        if not self._settle(final=final, in_revoke=in_revoke):
            return False
        batch = self._batch
        if batch.is_empty():
            return True
        self._batch = Batch()
        assert self._commits is not None
        self._commits.submit(batch)
        if final or in_revoke:
            return self._settle(final=final, in_revoke=in_revoke)
        return True

    def _settle(self, *, final: bool = False, in_revoke: bool = False) -> bool:
        assert self._commits is not None
        if self._commits.settle(final=final, in_revoke=in_revoke, open_records=len(self._batch)):
            return True
        self._batch = Batch()  # read after the abandoned batch: not ours to commit either
        return False

    # -- rebalancing -------------------------------------------------------------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._pos().assigned = {(tp.topic, tp.partition) for tp in partitions}
        self.metrics.assigned.set(len(partitions))
        log.info("partitions assigned", extra={"count": len(partitions)})

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.info("partitions revoked", extra={
            "count": len(partitions), "open": len(self._batch),
            "in_flight": self._commits is not None and self._commits.in_flight})
        self.metrics.assigned.set(0)
        if self._state.partitions_taken():  # else the retry in progress abandons its batch
            self._flush(in_revoke=True)  # the batch in flight, then the open one
        self._batch = Batch()
        self._pos().assigned = set()

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        log.warning("partitions lost; the open batch is dropped uncommitted", extra={
            "count": len(partitions), "open": len(self._batch),
            "in_flight": self._commits is not None and self._commits.in_flight})
        self.metrics.assigned.set(0)
        self._state.partitions_taken()
        if self._commits is not None:
            self._commits.drain(len(self._batch))
        self._batch = Batch()
        self._pos().assigned = set()

    # -- helpers -----------------------------------------------------------------------
    def _pos(self) -> Positions:
        assert self._positions is not None, "call setup() first"
        return self._positions

    def _short(self, topic: str) -> str:
        return self._decoder.unprefixed(topic) if self._decoder else topic

    def _connect(self) -> Any:
        attempt = 0
        while True:
            try:
                client = connect_clickhouse(self.settings.clickhouse)
                if self.apply_migrations:
                    migrate(client)
                self._writer.up(True)
                return client
            except (ConfigError, MigrationError):
                raise
            except Exception as exc:
                attempt += 1
                self.metrics.clickhouse_up.set(0)
                delay = backoff_delay(attempt, self.settings.sink.backoff_max_s)
                log.warning("ClickHouse not reachable; waiting", extra={
                    "url": self.settings.clickhouse.url, "attempt": attempt,
                    "wait_s": round(delay, 2), "error": str(exc)[:300]})
                self.metrics.backoff_seconds.inc(delay)
                if self._state.sleep(delay):
                    raise RetriableError("stopped while waiting for ClickHouse") from exc

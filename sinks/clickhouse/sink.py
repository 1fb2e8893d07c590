"""The ClickHouse sink: canonical facts and derived state from Kafka into ClickHouse.

One consumer group reads ``participation.facts`` (raw facts keyed by canonical performance
id), the derived topics and optionally ``participation.unmatched``. Rows gather in a
:class:`Batch` bounded by rows per table (``sink.batch_max_rows``: ClickHouse wants few
large inserts, and each table gets its own) and seconds; the tail of a catch-up (the batch
after a full one) is written as soon as the consumer has read all there is. A flush hands
the batch to a writer thread that inserts each table's rows (column-oriented, with a
deduplication token per table per batch) and sends its dead letters, while the loop
decodes the next batch. One batch is in flight at most: the next flush first waits for it,
and its offsets are stored and committed, in order, only after its inserts returned.
ClickHouse down: the batch and the position are kept, partitions are paused and the insert
retried with bounded exponential backoff. Every table is a replacing engine keyed by fact
id or version, so a batch written again after a crash (insert confirmed, commit lost) is
no double. A vendor tenant's fact is stored only from the copy the streams worker writes
once it counted it (``bus.codec.ACCEPTED_MOVE``), never as identity first forwarded it:
held or refused, it is in no table (``records_skipped{reason="tenant_not_counted_yet"}``).
"""

from __future__ import annotations

import gc
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from prometheus_client import CollectorRegistry

from bus.codec import MOVE_HEADER, RETRACT_PREFIX, TENANT_HEADER, stored_move
from bus.deadletter import DeadLetter
from bus.errors import ConfigError, RetriableError
from bus.kafka import ConfigValue, make_consumer, make_producer
from bus.log import get_logger
from bus.metrics import Health
from bus.serde import Registry
from bus.settings import Settings
from bus.topics import FACTS, topic_name
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.committing import Committing, InFlight, Phase, backoff_delay
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.decode import RecordDecoder, Skip
from sinks.clickhouse.dlq import DeadLetterWriter, record_headers
from sinks.clickhouse.errors import MappingError, MigrationError
from sinks.clickhouse.metrics import SinkMetrics
from sinks.clickhouse.migrate import migrate
from sinks.clickhouse.positions import Positions
from sinks.clickhouse.rebalance import Rebalancing
from sinks.clickhouse.rows import COLUMNS, FACT_KINDS
from sinks.clickhouse.writing import BatchWriting

__all__ = ["ClickHouseSink", "consumer_extra"]

log = get_logger("sinks.clickhouse")

_FACT_TABLES = frozenset(FACT_KINDS.values())


def _fact_headers(msg: Message) -> tuple[bool, bool]:
    """(store it?, a retraction?) for a record on ``participation.facts``.

    A tenant's fact (``TENANT_HEADER``) is stored only from the copy the streams worker
    writes once it counted it (``bus.codec.ACCEPTED_MOVE``): the fact as identity forwarded
    it may still be held (its performance's venue not known yet) or be refused, and a
    report must never show what the worker did not count. A retraction (a re-route took
    the fact back out of the performance it is keyed by) deletes the fact's row there.
    """
    headers: Any = msg.headers()
    if not headers:
        return True, False
    move: str | None = None
    tenant: str | None = None
    for name, value in headers:
        if name == MOVE_HEADER and isinstance(value, bytes):
            move = value.decode("utf-8", "replace")
        elif name == TENANT_HEADER and value:
            tenant = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    store, counted_move = stored_move(move, tenant)
    return store, counted_move is not None and counted_move.startswith(RETRACT_PREFIX)


def consumer_extra(settings: Settings) -> dict[str, ConfigValue]:
    """The sink consumer's own librdkafka properties (besides ``bus.kafka.make_consumer``'s).

    Eager "range" assignment: a revoke takes every partition, so an abandoned batch is
    always re-read from the committed offsets by whoever gets them next. Fetches gathered
    (``sink.fetch_min_bytes``, ``sink.fetch_wait_max_ms``): at librdkafka's default the
    broker answered as soon as one record was there, and at 1,000 facts/s beside the
    worker the sink used ~25% more CPU and the worker's p99 to the availability topic was
    30-80 ms longer (bench/results/issue14, session 21).
    """
    return {"partition_assignment_strategy": "range",
            "fetch_min_bytes": settings.sink.fetch_min_bytes,
            "fetch_wait_max_ms": settings.sink.fetch_wait_max_ms}


_CONSUME_MAX = 5000
_GC_GEN0 = 50_000  # allocations between young collections while running (default 700)
_SWITCH_INTERVAL_S = 0.0005  # GIL switch interval while running (Python's default 5 ms)
_INFLIGHT_POLL_S = 0.05  # longest consume() while a batch is in flight, so its commit is prompt
#: How long a consumer that has read everything fetched waits for more before the tail of a
#: catch-up is written (see ``_step``).
_CAUGHT_UP_WAIT_S = 0.02


class ClickHouseSink(BatchWriting, Committing, Rebalancing):
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
        before_commit: called with each batch after its inserts returned, before its
            offsets are committed (tests use it to crash the sink in that window).

    """

    def __init__(self, settings: Settings, *, registry: CollectorRegistry | None = None,
                 health: Health | None = None, with_unmatched: bool = True,
                 apply_migrations: bool = True,
                 before_commit: Callable[[Batch], None] | None = None) -> None:
        self.settings = settings
        self.metrics = SinkMetrics(registry or CollectorRegistry())
        self.health = health or Health()
        self.group_id = settings.sink.group_id
        self.with_unmatched = with_unmatched
        self.apply_migrations = apply_migrations
        self.before_commit = before_commit
        self.client: Any = None
        self._consumer: Consumer | None = None
        self._positions: Positions | None = None
        self._dlq: DeadLetterWriter | None = None
        self._decoder: RecordDecoder | None = None
        self._batch = Batch()
        self._inflight: InFlight | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._stopping = threading.Event()
        self._phase = Phase.CONSUMING
        self._clickhouse_ok = False
        self._seen: dict[str, int] = {}  # records read per (prefixed) topic since last counted
        self._drained = False  # the last consume() came back with fewer records than asked
        self._contexts: dict[str, Any] = {}  # table -> its insert context (writing.py)
        self._after_full = False  # the last batch written was full (the sink was behind)
        self._facts_topic = topic_name(FACTS, settings.topic_prefix)
        self.health.add_check("clickhouse", lambda: self._clickhouse_ok)
        self.health.add_check("running", lambda: not self._stopping.is_set())

    # -- lifecycle ---------------------------------------------------------------------
    def setup(self) -> None:
        """Connect (waiting for ClickHouse), migrate, subscribe.

        Raises:
            MigrationError: the database schema disagrees with the migration files.
            ConfigError: a setting is wrong.
            RetriableError: stopped before ClickHouse came up.

        """
        self.client = self._connect()
        self._contexts = {}
        s = self.settings
        self._decoder = RecordDecoder(Registry(s.registry), s.topic_prefix)
        self._dlq = DeadLetterWriter(make_producer(s.kafka), self.group_id)
        self._consumer = make_consumer(s.kafka, self.group_id, **consumer_extra(s))
        self._positions = Positions(self._consumer, self.metrics, self._short)
        topics = self._decoder.topics(self.with_unmatched)
        self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke,
                                 on_lost=self._on_lost)
        log.info("sink subscribed", extra={"topics": topics, "group_id": self.group_id})

    def run(self) -> None:
        """Consume, batch and flush until :meth:`stop`; then flush, commit and close."""
        assert self._consumer is not None, "call setup() first"
        # Up to two batches of rows live until inserted; at the default threshold (700) the
        # collector runs every few hundred records and keeps rescanning them as they age:
        # ~20% of the decoding time (measured). An insert leaves no cycles behind
        # (``BatchWriting._context``), so the young collections free what is garbage.
        thresholds = gc.get_threshold()
        gc.set_threshold(max(thresholds[0], _GC_GEN0), *thresholds[1:])
        # The writer thread's insert hands the GIL back and forth with the decoding loop at
        # every socket read and write; at Python's default switch interval (5 ms) each
        # hand-back waits for the loop's turn to end, and an insert took 3-4x as long as on
        # its own (measured). A shorter interval lets it through.
        switch = sys.getswitchinterval()
        sys.setswitchinterval(min(switch, _SWITCH_INTERVAL_S))
        try:
            while not self._stopping.is_set():
                self._step()
            self._flush(final=True)
        finally:
            gc.set_threshold(*thresholds)
            sys.setswitchinterval(switch)
            self.close()

    def stop(self) -> None:
        self._stopping.set()

    def close(self) -> None:
        self._drain()
        if self._consumer is not None:
            try:
                self._consumer.close()  # a revoke here may still flush an open batch
            finally:
                self._consumer = self._positions = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._dlq is not None:
            self._dlq.close()
            self._dlq = None
        if self.client is not None:
            try:
                self.client.close()
            finally:
                self.client = None

    # -- the loop ----------------------------------------------------------------------
    def _step(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        s = self.settings.sink
        # commit as soon as the insert is back, not at the next flush; after an abandoned
        # batch (stopping) read nothing more: nothing read after it may be committed
        if self._inflight is not None and self._inflight.future.done() and not self._settle():
            return
        batch = self._batch
        wait = s.batch_max_seconds
        if batch.started is not None:
            wait = s.batch_max_seconds - (time.monotonic() - batch.started)
        if self._inflight is not None:
            wait = min(wait, _INFLIGHT_POLL_S)
        # The tail of a catch-up: the last batch written was full (the sink was behind) and
        # the last read drained what was fetched. If nothing more comes within a moment, the
        # open batch is written now, not at batch_max_seconds: the end of a backlog is in
        # ClickHouse up to a second sooner. One such early write per full batch, so a steady
        # trickle (whose batches end by the timer) still writes at most once per
        # batch_max_seconds.
        tail = self._after_full and self._drained and not batch.is_empty()
        if tail:
            wait = min(wait, _CAUGHT_UP_WAIT_S)
        max_records = s.batch_max_rows * len(COLUMNS)
        room = max(1, min(_CONSUME_MAX, s.batch_max_rows - batch.fullest(), max_records - len(batch)))
        messages = consumer.consume(num_messages=room, timeout=min(0.5, max(0.01, wait)))
        self._drained = len(messages) < room
        for i, msg in enumerate(messages):
            try:
                self._handle(msg)
            except RetriableError as exc:  # the registry is away: not the record's fault
                self._count_seen()
                self._pos().rewind(messages[i:])
                self._flush()
                delay = min(exc.retry_after * 2, s.backoff_max_s)
                log.warning("cannot decode now; waiting", extra={"error": str(exc), "wait_s": delay})
                self.metrics.backoff_seconds.inc(delay)
                self._stopping.wait(delay)
                return
        self._count_seen()
        batch = self._batch
        full = len(batch) >= max_records or batch.fullest() >= s.batch_max_rows
        if full or (tail and not messages) or batch.due(s.batch_max_rows, s.batch_max_seconds,
                                                        max_records=max_records):
            self._after_full = full
            self._flush()
        self._pos().update_lag()

    def _count_seen(self) -> None:
        for topic, n in self._seen.items():
            self.metrics.records_in.labels(self._short(topic)).inc(n)
        self._seen.clear()

    def _handle(self, msg: Message) -> None:
        err = msg.error()
        if err is not None:
            if err.fatal():
                raise KafkaException(err)
            if err.code() != KafkaError._PARTITION_EOF:
                log.warning("consumer error", extra={"error": str(err)})
            return
        decoder = self._decoder
        assert decoder is not None
        topic, partition, offset = msg.topic() or "", msg.partition() or 0, msg.offset() or 0
        _, ts = msg.timestamp()
        retraction = False
        if topic == self._facts_topic:
            store, retraction = _fact_headers(msg)
            if not store:  # a tenant's fact the worker has not counted (yet): its copy comes then
                self._seen[topic] = self._seen.get(topic, 0) + 1
                self._batch.mark(topic, partition, offset)
                self.metrics.skipped.labels(FACTS, "tenant_not_counted_yet").inc()
                return
        try:
            out = decoder.decode(topic, msg.key(), msg.value(), partition, offset, ts)
        except RetriableError:
            raise
        except Exception as exc:  # bad input: dead-letter it, never crash, never drop silently
            stage = "transform" if isinstance(exc, MappingError) else "deserialize"
            self._batch.add_dead(DeadLetter(topic, msg.value(), exc, stage, key=msg.key(),
                                            partition=partition, offset=offset,
                                            headers=record_headers(msg), timestamp_ms=ts))
            self._batch.mark(topic, partition, offset)
            log.warning("record refused; sent to the dead-letter topic",
                        extra={"topic": topic, "partition": partition, "offset": offset,
                               "stage": stage, "error": str(exc)[:300]})
            self._seen[topic] = self._seen.get(topic, 0) + 1
            return
        self._seen[topic] = self._seen.get(topic, 0) + 1
        self._batch.mark(topic, partition, offset)
        if isinstance(out, Skip):
            self.metrics.skipped.labels(decoder.unprefixed(topic), out.reason).inc()
            if out.withdraw is not None:
                self._batch.withdraw(out.withdraw, offset)
            return
        if retraction and out.table in _FACT_TABLES:
            cols = COLUMNS[out.table]
            self._batch.retract(out.table, out.values[cols.index("performance_id")],
                                out.values[cols.index("fact_id")])
            return
        self._batch.add(out)

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
                self._clickhouse_ok = True
                self.metrics.clickhouse_up.set(1)
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
                if self._stopping.wait(delay):
                    raise RetriableError("stopped while waiting for ClickHouse") from exc

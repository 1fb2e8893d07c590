"""The one reader of compacted topics: read every partition to its end, then follow it.

Roles that keep a compacted topic in memory (the gateway's view, every worker's identity
crosswalk) assign every partition from the beginning (no group, nothing committed: the
table is rebuilt on every start), decode each record, hand it to an ``apply`` callback,
and are *ready* once every partition reached the end it had when reading began: its
partition EOF at that end (which also covers an end offset that is a transaction marker
or a compaction gap), its position at that end, or at once when it was empty.

One record never stops the reader: any exception from decoding or applying it sends it
to ``<topic>.dlq`` (original key, value, timestamp; :func:`bus.deadletter.error_headers`
with partition and offset), counts and logs it (with its key), and the reader goes on,
ready. A registry that cannot be reached is not the record's fault: decoding is retried
(health red). A failed consumer is rebuilt with backoff from the positions read (red too).

Perf notes: librdkafka reads ahead up to ``queued.max.messages.kbytes`` (64 MB by default); capped
at ``kafka.compacted_read_ahead_kb`` (2 MB) the gateway at 100,000 performances peaked at 207 MB, not 220."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, Producer, TopicPartition
from prometheus_client import CollectorRegistry, Counter, Gauge

from bus.deadletter import error_headers
from bus.errors import RetriableError
from bus.kafka import make_consumer, make_producer
from bus.log import get_logger
from bus.settings import KafkaSettings

__all__ = ["CompactedMetrics", "CompactedReader", "Handler", "Record"]

log = get_logger(__name__)

_BATCH = 500
_BACKOFF_MAX_S = 30.0


@dataclass(frozen=True, slots=True)
class Record:
    """One decoded record of a compacted topic (full topic name; ``value`` None: a tombstone,
    a delete; ``timestamp_ms`` None when Kafka has none)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: Any
    timestamp_ms: int | None


@dataclass(frozen=True, slots=True)
class Handler:
    """How to read one topic.

    Attributes:
        label: the topic's name without prefix (metric label, log field).
        decode: bytes -> value; called only for non-tombstones.
        apply: takes each record in offset order; returns the outcome to count
            (``applied``, ``tombstone``, ``stale``, ...). Raising dead-letters the record.

    """

    label: str
    decode: Callable[[bytes], Any]
    apply: Callable[[Record], str]


class CompactedMetrics:
    """Counts of a compacted-topic reader, for roles without a counter of their own.

    Args:
        registry: where the metrics register.
        reader: the reader's name (label), e.g. ``crosswalk``.

    """

    def __init__(self, registry: CollectorRegistry, reader: str) -> None:
        self.reader = reader
        self.records = Counter("cultuurbus_compacted_records",
                               "Records read from a compacted topic, per reader, topic and outcome "
                               "(applied, tombstone, dead_letter, ...).",
                               ["reader", "topic", "outcome"], registry=registry)
        self.ready = Gauge("cultuurbus_compacted_ready",
                           "1 once the reader has read every partition to its end.", ["reader"],
                           registry=registry)

    def count(self, topic: str, outcome: str) -> None:
        self.records.labels(self.reader, topic, outcome).inc()


def _is_registry_outage(exc: BaseException) -> bool:
    """A registry that could not answer (not a 404 for an unknown schema id)."""
    return isinstance(exc, RetriableError) and getattr(exc.__cause__, "http_status_code", None) != 404


class CompactedReader:
    """Reads compacted topics into the caller's table, from the beginning, then follows.

    Lifecycle: ``start()`` runs ``setup()`` (consumer, assignment) and ``run()`` (poll, decode,
    apply) in a daemon thread, retrying both with backoff until ``stop()``, which only signals;
    ``close()`` stops and joins. The thread closes its consumer and flushes its dead letters
    (bounded) when it ends, so ``stop()`` alone loses nothing either.

    Args:
        kafka: Kafka settings.
        handlers: full topic name -> how to decode and apply its records.
        source: the role (``errors.source``, thread name; stages ``<source>-decode``, ``<source>-apply``).
        count: called with (topic label, outcome) for every record, dead letters included.
        on_batch: called in the reader thread after each batch (and each idle poll): hand on its changes.
        on_ready: called in the reader thread once, when every partition was read.
        isolation_level: ``read_committed`` (default) or ``read_uncommitted``.
        poll_s: how long one poll waits for records.

    """

    def __init__(self, kafka: KafkaSettings, handlers: Mapping[str, Handler], *, source: str,
                 count: Callable[[str, str], None] | None = None,
                 on_batch: Callable[[], None] | None = None,
                 on_ready: Callable[[], None] | None = None,
                 isolation_level: str = "read_committed", poll_s: float = 0.1) -> None:
        self.kafka = kafka
        self.handlers = dict(handlers)
        self.source = source
        self._count = count or (lambda _topic, _outcome: None)
        self._on_batch = on_batch
        self._on_ready = on_ready
        self._isolation = isolation_level
        self._poll_s = poll_s
        self.ready = threading.Event()
        self.error: str | None = None
        self.dead_letters = 0
        self._stopping = threading.Event()
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._thread: threading.Thread | None = None
        self._next: dict[tuple[str, int], int] = {}
        self._pending: dict[tuple[str, int], int | None] = {}

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def healthy(self) -> bool:
        """The thread runs and its last attempt to read worked (red while it retries)."""
        return self.alive and self.error is None

    @property
    def consumer(self) -> Consumer | None:
        """The current consumer; only for the reader thread (``on_batch``)."""
        return self._consumer

    def setup(self) -> None:
        """Create the consumer; assign every partition where it left off, else from the start.

        Raises:
            RetriableError: a topic does not exist (yet) or Kafka cannot be reached.

        """
        consumer = make_consumer(self.kafka, f"cultuurbus-{self.source}-{uuid.uuid4().hex[:12]}",
                                 enable_partition_eof=True, isolation_level=self._isolation,
                                 queued_max_messages_kbytes=self.kafka.compacted_read_ahead_kb)
        try:
            assignment: list[TopicPartition] = []
            pending: dict[tuple[str, int], int | None] = {}
            for topic in self.handlers:
                tmeta = consumer.list_topics(topic, timeout=10).topics.get(topic)
                if tmeta is None or tmeta.error is not None or not tmeta.partitions:
                    raise RetriableError(
                        f"topic {topic} is not available ({tmeta.error if tmeta else 'missing'}); "
                        "create the catalog with `cultuurbus topics apply` (same topic prefix)",
                        retry_after=2.0)
                for p in sorted(tmeta.partitions):
                    start = self._next.get((topic, p), OFFSET_BEGINNING)
                    assignment.append(TopicPartition(topic, p, start))
                    end = self._end_of(consumer, topic, p, start)
                    if end != -1:
                        pending[(topic, p)] = end
        except BaseException:
            consumer.close()
            raise
        consumer.assign(assignment)
        self._consumer = consumer
        if not self.ready.is_set():
            self._pending = pending
        log.info("reading compacted topics", extra={"source": self.source, "topics": sorted(self.handlers),
                                                    "partitions": len(assignment)})
        self._check_ready()

    @staticmethod
    def _end_of(consumer: Consumer, topic: str, partition: int, start: int) -> int | None:
        """The end offset to reach, None when unknown (wait for EOF), -1 when nothing to read."""
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        except Exception:  # no answer now: the partition's EOF will say when it was read
            return None
        if high <= max(low, start if start >= 0 else low):
            return -1
        return int(high)

    def start(self) -> CompactedReader:
        self._thread = threading.Thread(target=self._main, name=f"{self.source}-reader", daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float) -> bool:
        """Block until ready, the thread ended, or ``timeout`` passed; whether ready."""
        deadline = time.monotonic() + timeout
        while not self.ready.wait(0.1):
            if not self.alive or time.monotonic() > deadline:
                return self.ready.is_set()
        return True

    def _main(self) -> None:
        backoff = 0.5
        try:
            while not self._stopping.is_set():
                try:
                    if self._consumer is None:
                        self.setup()
                    self.error = None
                    backoff = 0.5
                    self.run()
                except Exception as exc:  # whatever it was, retry: a dead thread serves nobody
                    self.error = f"{type(exc).__name__}: {exc}"
                    wait = max(getattr(exc, "retry_after", 0.0), backoff)
                    log.warning("compacted-topic reader failed; retrying", extra={
                        "source": self.source, "error": str(exc)[:300], "retry_in_s": wait})
                    self._drop_consumer()
                    self._stopping.wait(min(wait, _BACKOFF_MAX_S))
                    backoff = min(backoff * 2, _BACKOFF_MAX_S)
        finally:
            self._drop_consumer()
            self._flush()

    def run(self) -> None:
        """Poll, decode and apply until ``stop()``.

        Raises:
            RetriableError: the consumer failed fatally (the caller rebuilds it).

        """
        consumer = self._consumer
        assert consumer is not None, "setup() first"
        while not self._stopping.is_set():
            # the first record as soon as it is there (consume(n, t) waits for n records or t),
            # then what is queued: a gateway's push waited up to poll_s for records that had come
            if (first := consumer.poll(self._poll_s)) is not None:
                self._handle(first)
                for msg in consumer.consume(_BATCH, 0):
                    self._handle(msg)
            if self._producer is not None:
                self._producer.poll(0)
            if self._pending and not self.ready.is_set():
                self._check_positions(consumer)
            if self._on_batch is not None:
                self._on_batch()

    def stop(self) -> None:
        self._stopping.set()

    def close(self, timeout: float = 10.0) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        if not self.alive:
            self._drop_consumer()
            self._flush(timeout)

    def _drop_consumer(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):  # closing a failed consumer may fail too
                consumer.close()

    def _flush(self, timeout: float = 10.0) -> None:
        producer = self._producer
        if producer is not None:
            left = producer.flush(timeout)
            if left:
                log.error("dead letters not acknowledged", extra={"source": self.source, "count": left})

    def positions(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the next offset the reader reads (any thread)."""
        return dict(self._next)

    def _reached(self, topic: str, partition: int, offset: int) -> None:
        # An EOF short of the end seen at start is the last stable offset of a transaction
        # whose commit marker is not written yet: its records are still to come.
        self._next[(topic, partition)] = max(self._next.get((topic, partition), 0), offset)
        end = self._pending.get((topic, partition))
        if end is None or offset >= end:
            self._pending.pop((topic, partition), None)
            self._check_ready()

    def _check_positions(self, consumer: Consumer) -> None:
        known = [TopicPartition(t, p) for (t, p), end in self._pending.items() if end is not None]
        if not known:
            return
        try:
            positions = consumer.position(known)
        except Exception:  # noqa: S110 - EOF still tells
            return
        for tp in positions:
            end = self._pending.get((tp.topic, tp.partition))
            if end is not None and tp.offset >= end:
                self._pending.pop((tp.topic, tp.partition), None)
        self._check_ready()

    def _check_ready(self) -> None:
        if self._pending or self.ready.is_set():
            return
        if self._on_batch is not None:
            self._on_batch()
        self.ready.set()
        log.info("compacted topics read to their end", extra={"source": self.source,
                                                              "dead_letters": self.dead_letters})
        if self._on_ready is not None:
            self._on_ready()

    def _handle(self, msg: Message) -> None:
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                self._reached(str(msg.topic()), int(msg.partition() or 0), int(msg.offset() or 0))
            elif err.fatal():
                raise RetriableError(f"consumer failed: {err.str()}", retry_after=1.0)
            else:
                log.warning("consumer error", extra={"source": self.source, "error": err.str(),
                                                     "code": err.code()})
            return
        topic, partition, offset = str(msg.topic()), int(msg.partition() or 0), int(msg.offset() or 0)
        self._next[(topic, partition)] = offset + 1
        handler = self.handlers[topic]
        raw = msg.value()
        stage = "decode"
        try:
            value = None if raw is None else self._decode(handler, raw)
            stage = "apply"
            ts_type, ts = msg.timestamp()
            outcome = handler.apply(Record(topic, partition, offset, msg.key(), value,
                                           ts if ts_type and ts > 0 else None))
        except Exception as exc:  # any record: dead-lettered, never the reader's end
            self._dead_letter(msg, handler, stage, exc)
            return
        self._count(handler.label, outcome)

    def _decode(self, handler: Handler, raw: bytes) -> Any:
        backoff = 0.5
        while True:
            try:
                value = handler.decode(raw)
                if self.error is not None:
                    self.error = None
                return value
            except Exception as exc:
                if not _is_registry_outage(exc) or self._stopping.is_set():
                    raise
                self.error = f"schema registry unavailable: {exc}"
                log.warning("registry unavailable; retrying", extra={"source": self.source,
                                                                     "error": str(exc)[:300]})
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, _BACKOFF_MAX_S)

    def _dead_letter(self, msg: Message, handler: Handler, stage: str, exc: Exception) -> None:
        self.dead_letters += 1
        self._count(handler.label, "dead_letter")
        key = msg.key()
        log.warning("dead letter", extra={
            "source": self.source, "topic": msg.topic(), "partition": msg.partition(),
            "offset": msg.offset(), "key": None if key is None else key.decode("utf-8", "replace"),
            "stage": stage, "error": f"{type(exc).__name__}: {exc}"[:300]})
        if self._producer is None:
            self._producer = make_producer(self.kafka)
        own = msg.headers() or []
        headers = error_headers(topic=str(msg.topic()), stage=f"{self.source}-{stage}", error=exc,
                                source=self.source, partition=msg.partition(), offset=msg.offset(),
                                original=list(own.items()) if isinstance(own, dict) else own)
        ts_type, ts = msg.timestamp()
        kwargs: dict[str, Any] = {"timestamp": ts} if ts_type and ts > 0 else {}
        while True:
            try:
                self._producer.produce(f"{msg.topic()}.dlq", value=msg.value(), key=key,
                                       headers=headers, on_delivery=_delivered, **kwargs)
                return
            except BufferError:
                self._producer.poll(0.5)


def _delivered(err: KafkaError | None, msg: Message) -> None:
    if err is not None:
        log.error("dead letter not delivered", extra={"topic": msg.topic(), "error": err.str()})

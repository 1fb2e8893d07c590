"""The loader: one consumer thread that reads the compacted topics into the view.

It assigns every partition of ``participation.availability`` and
``participation.lastminute`` from the beginning (no consumer-group membership, nothing
committed: the view is rebuilt from the compacted log on every start) and reports ready
once each partition reached its end. Undecodable records go to ``<topic>.dlq`` with the
original bytes and ``errors.*`` headers; several gateway replicas or restarts may each
dead-letter the same record (at least once): ``errors.offset`` tells copies apart.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, Producer, TopicPartition

from bus.errors import BusError, RetriableError
from bus.kafka import make_consumer, make_producer
from bus.log import get_logger
from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, LASTMINUTE, dlq_of
from sinks.gateway.metrics import GatewayMetrics
from sinks.gateway.view import Change, Outcome, View

__all__ = ["ViewLoader"]

log = get_logger(__name__)

_BATCH = 500
_LAG_EVERY_S = 2.0


class _BadRecord(BusError):
    """A record that decoded but cannot be applied (no key, key and id disagree)."""


class ViewLoader:
    """Reads the compacted topics into a :class:`View` and hands each batch of changes on.

    Lifecycle: ``start()`` runs ``setup()`` (consumer, assignment) and ``run()`` in a
    daemon thread; ``run()`` polls until ``stop()``; ``stop()`` only signals; ``close()``
    joins the thread, flushes the DLQ producer (bounded) and closes the consumer.

    Args:
        settings: bus settings (kafka, registry, topic prefix).
        view: the view to fill.
        metrics: the gateway's metrics.
        on_changes: called in the loader thread with every batch of changes.
        registry: a registry client to share (default: one from ``settings.registry``).

    """

    def __init__(self, settings: Settings, view: View, metrics: GatewayMetrics,
                 on_changes: Callable[[list[Change]], None] | None = None,
                 registry: Registry | None = None) -> None:
        self.settings = settings
        self.view = view
        self.metrics = metrics
        self.on_changes = on_changes
        registry = registry or Registry(settings.registry)
        prefix = settings.topic_prefix
        self.topics = {prefix + AVAILABILITY: AVAILABILITY, prefix + LASTMINUTE: LASTMINUTE}
        self._decoders = {prefix + AVAILABILITY: AvroDeserializer(registry, "availability.avsc"),
                          prefix + LASTMINUTE: AvroDeserializer(registry, "lastminute_offer.avsc")}
        self._apply = {prefix + AVAILABILITY: view.apply_availability,
                       prefix + LASTMINUTE: view.apply_lastminute}
        self.ready = threading.Event()
        self._stopping = threading.Event()
        self._consumer: Consumer | None = None
        self._producer: Producer | None = None
        self._partitions: list[TopicPartition] = []
        self._pending_eof: set[tuple[str, int]] = set()
        self._thread: threading.Thread | None = None
        self._last_lag = 0.0
        self.error: str | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def setup(self) -> None:
        """Create the consumer and assign every partition from the beginning.

        Raises:
            RetriableError: a topic does not exist (yet) or Kafka cannot be reached.

        """
        consumer = make_consumer(self.settings.kafka, f"cultuurbus-gateway-{uuid.uuid4().hex[:12]}",
                                 enable_partition_eof=True)
        try:
            partitions: list[TopicPartition] = []
            for topic in self.topics:
                meta = consumer.list_topics(topic, timeout=10)
                tmeta = meta.topics.get(topic)
                if tmeta is None or tmeta.error is not None or not tmeta.partitions:
                    raise RetriableError(
                        f"topic {topic} is not available ({tmeta.error if tmeta else 'missing'}); "
                        "create the catalog with `cultuurbus topics apply` (same topic prefix)",
                        retry_after=2.0)
                partitions += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(tmeta.partitions)]
        except BaseException:
            consumer.close()
            raise
        consumer.assign(partitions)
        self._consumer = consumer
        self._partitions = partitions
        self._pending_eof = {(tp.topic, tp.partition) for tp in partitions}
        log.info("gateway view loading", extra={"partitions": len(partitions),
                                                 "topics": sorted(self.topics)})

    def start(self) -> ViewLoader:
        self._thread = threading.Thread(target=self._main, name="gateway-loader", daemon=True)
        self._thread.start()
        return self

    def _main(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set() and self._consumer is None:
            try:
                self.setup()
            except RetriableError as exc:
                self.error = str(exc)
                log.warning("gateway cannot start reading yet", extra={"error": str(exc)[:300]})
                self._stopping.wait(min(max(exc.retry_after, backoff), 30.0))
                backoff = min(backoff * 2, 30.0)
            except BusError as exc:
                self.error = str(exc)
                log.error("gateway loader cannot start", extra={"error": str(exc)[:300]})
                return
        self.error = None
        try:
            self.run()
        except Exception as exc:  # the thread must say why it ended; health turns red
            self.error = f"loader stopped: {exc}"
            log.exception("gateway loader stopped")

    def run(self) -> None:
        """Poll, decode and apply until ``stop()``; hand each batch of changes on."""
        consumer = self._consumer
        assert consumer is not None, "setup() first"
        while not self._stopping.is_set():
            msg = consumer.poll(0.1)
            changes: list[Change] = []
            while msg is not None:
                self._handle(msg, changes)
                if len(changes) >= _BATCH:
                    break
                msg = consumer.poll(0)
            if changes and self.on_changes is not None:
                self.on_changes(changes)
            if self._producer is not None:
                self._producer.poll(0)
            now = time.monotonic()
            if now - self._last_lag >= _LAG_EVERY_S:
                self._last_lag = now
                self._observe()

    def stop(self) -> None:
        self._stopping.set()

    def close(self, timeout: float = 10.0) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._producer is not None:
            left = self._producer.flush(timeout)
            if left:
                log.error("dead letters not acknowledged at close", extra={"count": left})
            self._producer = None
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- records ------------------------------------------------------------------------

    def _handle(self, msg: Message, changes: list[Change]) -> None:
        err = msg.error()
        if err is not None:
            if err.code() == KafkaError._PARTITION_EOF:
                self._pending_eof.discard((msg.topic(), msg.partition()))
                if not self._pending_eof and not self.ready.is_set():
                    self._observe()
                    self.ready.set()
                    self.metrics.ready.set(1)
                    log.info("gateway view ready", extra=self.view.sizes())
            elif err.fatal():
                raise RetriableError(f"consumer failed: {err.str()}")
            else:
                log.warning("consumer error", extra={"error": err.str(), "code": err.code()})
            return
        topic = str(msg.topic())
        base = self.topics.get(topic, topic)
        raw = msg.value()
        try:
            rec = self._decode(topic, raw)
            key = msg.key()
            if key is None:
                raise _BadRecord("record has no key; the key must be the canonical performance id")
            pid = key.decode("utf-8", errors="replace")
            if rec is not None and rec.get("performance_id") != pid:
                raise _BadRecord(f"key {pid!r} differs from performance_id "
                                 f"{rec.get('performance_id')!r}; the key must be the canonical id")
        except BusError as exc:
            self._dead_letter(msg, base, exc)
            return
        outcome, change = self._apply[topic](pid, rec, msg.timestamp()[1])
        self.metrics.records.labels(base, outcome.value).inc()
        if change is not None:
            changes.append(change)
        elif outcome is Outcome.STALE:
            log.info("stale copy ignored", extra={"performance_id": pid, "topic": base})

    def _decode(self, topic: str, raw: bytes | None) -> dict[str, Any] | None:
        backoff = 0.5
        while True:
            try:
                return self._decoders[topic](raw)
            except RetriableError as exc:
                status = getattr(exc.__cause__, "http_status_code", None)
                if status == 404 or self._stopping.is_set():
                    raise
                log.warning("registry unavailable; retrying", extra={"error": str(exc)[:300]})
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, self.settings.sink.backoff_max_s)

    def _dead_letter(self, msg: Message, base: str, exc: Exception) -> None:
        self.metrics.records.labels(base, "dead_letter").inc()
        log.warning("dead letter", extra={"topic": msg.topic(), "partition": msg.partition(),
                                          "offset": msg.offset(), "error": str(exc)[:300]})
        if self._producer is None:
            self._producer = make_producer(self.settings.kafka)
        headers: list[tuple[str, str | bytes | None]] = [
            ("errors.topic", str(msg.topic()).encode()),
            ("errors.partition", str(msg.partition()).encode()),
            ("errors.offset", str(msg.offset()).encode()),
            ("errors.stage", b"gateway-decode"),
            ("errors.exception.class", f"{type(exc).__module__}.{type(exc).__qualname__}".encode()),
            ("errors.exception.message", str(exc)[:2000].encode()),
            ("errors.source", b"gateway"),
            ("errors.timestamp", datetime.now(UTC).isoformat(timespec="milliseconds").encode()),
        ]
        ts = msg.timestamp()[1]
        kwargs: dict[str, Any] = {"timestamp": ts} if ts and ts > 0 else {}
        dlq = self.settings.topic_prefix + dlq_of(base)
        while True:
            try:
                self._producer.produce(dlq, value=msg.value(), key=msg.key(), headers=headers,
                                       on_delivery=_delivered, **kwargs)
                return
            except BufferError:
                self._producer.poll(0.5)

    def _observe(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        for name, size in self.view.sizes().items():
            self.metrics.view_size.labels(name).set(size)
        try:
            positions = consumer.position(self._partitions)
        except Exception:  # metrics only: never stop the loader for them
            return
        for tp in positions:
            try:
                low, high = consumer.get_watermark_offsets(tp, timeout=1.0, cached=True)
            except Exception:  # noqa: S112  (a partition without a fetch yet)
                continue
            pos = tp.offset if tp.offset >= 0 else low
            self.metrics.consumer_lag.labels(self.topics.get(tp.topic, tp.topic),
                                             str(tp.partition)).set(max(high - pos, 0))


def _delivered(err: KafkaError | None, msg: Message) -> None:
    if err is not None:
        log.error("dead letter not delivered", extra={"topic": msg.topic(), "error": err.str()})

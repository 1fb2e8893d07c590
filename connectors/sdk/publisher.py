"""Publishing facts: serialise, produce keyed, and confirm delivery before anyone
acknowledges the source.

One idempotent ``acks=all`` producer per connector process, served by a poll thread so
both blocking sources (pollers) and asyncio servers (webhooks) can wait on delivery.
A dead letter's value is scrubbed of personal data, then cut to what Kafka takes
(``bus.deadletter.clip``: its first bytes, with ``errors.original.size`` and
``errors.truncated``); a record the client refuses outright is a ``DeliveryError``.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message

from bus.deadletter import clip, error_headers
from bus.errors import DeliveryError
from bus.kafka import make_producer
from bus.log import get_logger
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import dlq_of, spec, topic_name
from connectors.sdk.dlq import scrub
from connectors.sdk.errors import MappingError
from connectors.sdk.metrics import ConnectorMetrics
from connectors.sdk.records import DeadLetter, SourceRecord
from connectors.sdk.window import EventTimeWindow

__all__ = ["Publisher"]

log = get_logger(__name__)


class Publisher:
    """Lifecycle: built at start-up; ``publish``/``publish_many`` any number of times;
    ``close()`` flushes (bounded) and stops the poll thread.

    Args:
        settings: the deployment's settings (Kafka, registry, topic prefix).
        connector: this connector's name, used in metrics, DLQ headers and positions.
        metrics: the role's metric container.
        registry: a schema registry client (one is built from settings if omitted).

    """

    def __init__(self, settings: Settings, connector: str, metrics: ConnectorMetrics,
                 registry: Registry | None = None) -> None:
        self.settings = settings
        self.connector = connector
        self.metrics = metrics
        self.registry = registry or Registry(settings.registry)
        self.window = EventTimeWindow.from_settings(settings.connector)
        timeout_ms = int(settings.connector.delivery_timeout_s * 1000)
        self._producer = make_producer(settings.kafka, message_timeout_ms=timeout_ms)
        self._serializers: dict[str, AvroSerializer] = {}
        self._stop = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=f"{connector}-producer",
                                        daemon=True)
        self._thread.start()

    # -- plumbing --------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    def _topic(self, name: str) -> str:
        return topic_name(name, self.settings.topic_prefix)

    def _serializer(self, topic: str) -> AvroSerializer:
        ser = self._serializers.get(topic)
        if ser is None:
            schema = spec(topic).value_schema
            assert schema is not None, f"{topic} has no value schema"
            ser = AvroSerializer(self.registry, self._topic(topic), schema)
            self._serializers[topic] = ser
        return ser

    def _produce(self, topic: str, key: str | bytes | None, value: bytes | None,
                 headers: list[tuple[str, str | bytes | None]] | None = None) -> cf.Future[Message]:
        fut: cf.Future[Message] = cf.Future()

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                fut.set_exception(DeliveryError(
                    f"Kafka did not acknowledge a record for {topic}: {err.str()}"))
            else:
                fut.set_result(msg)

        while True:
            try:
                self._producer.produce(self._topic(topic), key=key, value=value,
                                       headers=headers, on_delivery=on_delivery)
                return fut
            except BufferError:
                time.sleep(0.01)  # local queue full: the poll thread drains it
            except KafkaException as exc:  # refused before sending (too large, bad config)
                err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                fut.set_exception(DeliveryError(
                    f"Kafka's client refused a record of {len(value or b'')} bytes for {topic}: "
                    f"{err.str() if err is not None else exc}; nothing was acknowledged"))
                return fut

    # -- API -------------------------------------------------------------------------
    def submit(self, items: Sequence[SourceRecord | DeadLetter]) -> list[cf.Future[Message]]:
        """Produce every item; return one future per item, resolved on Kafka's ack.

        Serialisation problems of a fact turn it into a dead letter, never a crash.
        """
        futures = []
        for item in items:
            if isinstance(item, SourceRecord):
                try:
                    self.window.check_records([item])
                except MappingError as exc:  # a poller's fact dated in year 9999
                    item = DeadLetter(item.topic, item.value.model_dump_json().encode(), exc,
                                      stage="validation", key=item.key)
                    futures.append(self._dead_letter(item))
                    continue
                try:
                    value = self._serializer(item.topic)(item.value)
                except Exception as exc:  # noqa: BLE001 - becomes a dead letter
                    item = DeadLetter(item.topic, item.value.model_dump_json().encode(), exc,
                                      stage="serialization", key=item.key)
                else:
                    hdrs: list[tuple[str, str | bytes | None]] = [
                        (k, v.encode()) for k, v in item.headers.items()]
                    futures.append(self._produce(item.topic, item.key, value, hdrs or None))
                    continue
            futures.append(self._dead_letter(item))
        return futures

    def _dead_letter(self, item: DeadLetter) -> cf.Future[Message]:
        scrubbed, redacted = scrub(item.raw) if item.raw is not None else (None, False)
        raw, original_size = clip(scrubbed)
        headers = error_headers(topic=self._topic(item.topic), stage=item.stage, error=item.error,
                                source=self.connector, where=item.where, redacted=redacted,
                                original_size=original_size)
        log.warning("dead letter", extra={"connector": self.connector, "topic": item.topic,
                                          "stage": item.stage, "error": str(item.error)[:300],
                                          "where": item.where})
        return self._produce(dlq_of(item.topic), item.key, raw, headers)

    def publish(self, items: Sequence[SourceRecord | DeadLetter],
                timeout: float | None = None) -> None:
        """Produce and wait until Kafka acknowledged every item.

        Raises:
            DeliveryError: an item was not acknowledged in time; nothing may be
                acknowledged to the source (it will be offered again).

        """
        if not items:
            return
        t0 = time.monotonic()
        futures = self.submit(items)
        wait = (timeout if timeout is not None
                else self.settings.connector.delivery_timeout_s + 5.0)
        done, pending = cf.wait(futures, timeout=wait)
        failed = [f for f in done if f.exception() is not None]
        if pending or failed:
            self.metrics.up.labels(self.connector).set(0)
            first = failed[0].exception() if failed else None
            raise DeliveryError(
                f"{len(pending) + len(failed)} of {len(items)} records not acknowledged by "
                f"Kafka at {self.settings.kafka.bootstrap_servers}"
                + (f": {first}" if first else " in time"), retry_after=2.0)
        self._account(items, time.monotonic() - t0)

    async def publish_async(self, items: Sequence[SourceRecord | DeadLetter],
                            timeout: float | None = None) -> None:
        """``publish`` for asyncio servers: awaits the acks without blocking the loop."""
        import asyncio

        if not items:
            return
        t0 = time.monotonic()
        if any(isinstance(i, DeadLetter) for i in items):  # scrubbing a large body is CPU work:
            submitted = await asyncio.to_thread(self.submit, items)  # keep it off the event loop
        else:
            submitted = self.submit(items)
        futures = [asyncio.wrap_future(f) for f in submitted]
        wait = (timeout if timeout is not None
                else self.settings.connector.delivery_timeout_s + 5.0)
        done, pending = await asyncio.wait(futures, timeout=wait)
        failed = [f for f in done if f.exception() is not None]
        for p in pending:
            p.cancel()
        if pending or failed:
            self.metrics.up.labels(self.connector).set(0)
            first = failed[0].exception() if failed else None
            raise DeliveryError(f"{len(pending) + len(failed)} of {len(items)} records not "
                                f"acknowledged by Kafka" + (f": {first}" if first else " in time"),
                                retry_after=2.0)
        self._account(items, time.monotonic() - t0)

    def _account(self, items: Sequence[SourceRecord | DeadLetter], seconds: float) -> None:
        m = self.metrics
        m.up.labels(self.connector).set(1)
        m.publish_latency.labels(self.connector).observe(seconds)
        m.last_success.labels(self.connector).set(time.time())
        for item in items:
            if isinstance(item, SourceRecord):
                m.records_out.labels(self.connector, item.topic).inc()
            else:
                m.dlq.labels(self.connector, item.topic).inc()
                m.records_failed.labels(self.connector, item.stage).inc()

    def produce_raw(self, topic: str, key: str, value: bytes | None) -> cf.Future[Message]:
        """Produce bytes as they are (used by the position store)."""
        return self._produce(topic, key, value)

    def close(self, timeout: float = 10.0) -> int:
        """Flush what is queued (bounded), stop and close the producer (its connections end
        now, not when the garbage collector finds it); returns records left unflushed."""
        if self._closed:
            return 0
        left = self._producer.flush(timeout)
        self._stop.set()
        self._thread.join(timeout=2)
        if not self._thread.is_alive():
            self._producer.close()
            self._closed = True
        if left:
            log.error("records left unflushed at close", extra={"connector": self.connector,
                                                                 "count": left})
        return int(left)

    def kafka_reachable(self, timeout: float = 2.0) -> bool:
        try:
            self._producer.list_topics(timeout=timeout)
            return True
        except Exception:  # noqa: BLE001 - health check
            return False

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

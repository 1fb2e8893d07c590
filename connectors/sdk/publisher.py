"""Publishing facts: serialise, produce keyed, and confirm delivery before anyone
acknowledges the source.

One idempotent ``acks=all`` producer per connector process, served by a poll thread so
both blocking sources (pollers) and asyncio servers (webhooks) can wait on delivery.
A dead letter's value is scrubbed of personal data, then cut to what Kafka takes
(``bus.deadletter.clip``: its first bytes, with ``errors.original.size`` and
``errors.truncated``); a record the client refuses outright is a ``DeliveryError``.

Perf notes: one ``publish``/``publish_async`` counts its records' delivery reports down
(``_Acks``) and wakes its waiter once, when the last one came; a future per record
handed to the event loop one by one cost about a sixth of a webhook request's CPU (a
``concurrent.futures.Future``, ``asyncio.wrap_future`` and a ``call_soon_threadsafe``
self-pipe write each). The poll thread's ``poll(0.05)`` returns as soon as a report is
queued, so the 50 ms is its idle wait, not a delay. Measured on the webhook receiver
(``python -m bench --only connectors``): 1,430 -> 1,800 facts per CPU-second from this
change alone; a lone ``produce`` costs 2-4 us, a record's Avro encoding ~26 us.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message

from bus.deadletter import clip, error_headers
from bus.errors import DeliveryError
from bus.kafka import make_producer
from bus.log import get_logger
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.tenants import tenant_topic
from bus.topics import dlq_of, spec
from connectors.sdk.deadlines import Deadlines
from connectors.sdk.dlq import scrub
from connectors.sdk.errors import MappingError
from connectors.sdk.metrics import ConnectorMetrics
from connectors.sdk.records import DeadLetter, SourceRecord
from connectors.sdk.window import EventTimeWindow

__all__ = ["Publisher"]

log = get_logger(__name__)

#: Told of one record's fate: ``(None, message)`` when Kafka acknowledged it, else the error.
Acked = Callable[[DeliveryError | None, Message | None], None]


class _Acks:
    """The delivery reports of one publish, counted on whichever thread serves them (the
    poll thread; the caller's for a record the client refuses at once); ``done`` runs
    once, on the thread of the last report."""

    __slots__ = ("_done", "_lock", "errors", "left")

    def __init__(self, count: int, done: Callable[[], None]) -> None:
        self.left = count
        self.errors: list[DeliveryError] = []
        self._done = done
        self._lock = threading.Lock()

    def __call__(self, err: DeliveryError | None, msg: Message | None = None) -> None:
        with self._lock:
            if err is not None:
                self.errors.append(err)
            self.left -= 1
            last = self.left == 0
        if last:
            self._done()


def _future() -> tuple[cf.Future[Message], Acked]:
    """A future resolved by the ``Acked`` returned with it."""
    fut: cf.Future[Message] = cf.Future()

    def acked(err: DeliveryError | None, msg: Message | None) -> None:
        try:
            if err is not None:
                fut.set_exception(err)
            else:
                fut.set_result(msg)  # type: ignore[arg-type]
        except cf.InvalidStateError:  # a waiter gave up and cancelled it: raising here
            pass  # would end the poll thread

    return fut, acked


def _wake(loop: asyncio.AbstractEventLoop, done: asyncio.Future[None]) -> Callable[[], None]:
    """What the last delivery report calls: resolve ``done`` on its event loop."""

    def settle() -> None:
        if not done.done():  # a waiter that timed out cancelled it
            done.set_result(None)

    def wake() -> None:
        try:
            loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the loop closed: nobody waits any more
            pass

    return wake


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
        self._topics: dict[str, str] = {}  # catalog name -> this deployment's topic
        self._deadlines = Deadlines()
        # labelled metrics, made at the first publish (an alert on ``kafka_up == 0`` or an
        # old last success must not fire for a connector that has not published yet)
        self._children: dict[tuple[str, ...], Any] = {}
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
        topic = self._topics.get(name)
        if topic is None:
            topic = self._topics[name] = tenant_topic(name, self.settings.connector.tenant,
                                                      self.settings.topic_prefix)
        return topic

    def _serializer(self, topic: str) -> AvroSerializer:
        ser = self._serializers.get(topic)
        if ser is None:
            schema = spec(topic).value_schema
            assert schema is not None, f"{topic} has no value schema"
            ser = AvroSerializer(self.registry, self._topic(topic), schema)
            self._serializers[topic] = ser
        return ser

    def _produce(self, topic: str, key: str | bytes | None, value: bytes | None,
                 headers: list[tuple[str, str | bytes | None]] | None, acked: Acked) -> None:
        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            if err is not None:
                acked(DeliveryError(f"Kafka did not acknowledge a record for {topic}: {err.str()}"), None)
            else:
                acked(None, msg)

        while True:
            try:
                self._producer.produce(self._topic(topic), key=key, value=value,
                                       headers=headers, on_delivery=on_delivery)
                return
            except BufferError:
                time.sleep(0.01)  # local queue full: the poll thread drains it
            except KafkaException as exc:  # refused before sending (too large, bad config)
                err = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
                acked(DeliveryError(
                    f"Kafka's client refused a record of {len(value or b'')} bytes for {topic}: "
                    f"{err.str() if err is not None else exc}; nothing was acknowledged"), None)
                return

    def _send(self, item: SourceRecord | DeadLetter, acked: Acked) -> None:
        """Produce one item; serialisation problems of a fact make it a dead letter."""
        if isinstance(item, SourceRecord):
            try:
                self.window.check_records([item])
            except MappingError as exc:  # a poller's fact dated in year 9999
                self._dead_letter(DeadLetter(item.topic, item.value.model_dump_json().encode(), exc,
                                             stage="validation", key=item.key), acked)
                return
            try:
                value = self._serializer(item.topic)(item.value)
            except Exception as exc:  # noqa: BLE001 - becomes a dead letter
                item = DeadLetter(item.topic, item.value.model_dump_json().encode(), exc,
                                  stage="serialization", key=item.key)
            else:
                hdrs: list[tuple[str, str | bytes | None]] = [
                    (k, v.encode()) for k, v in item.headers.items()]
                self._produce(item.topic, item.key, value, hdrs or None, acked)
                return
        self._dead_letter(item, acked)

    def _send_all(self, items: Sequence[SourceRecord | DeadLetter], acked: Acked) -> None:
        for item in items:
            self._send(item, acked)

    # -- API -------------------------------------------------------------------------
    def submit(self, items: Sequence[SourceRecord | DeadLetter]) -> list[cf.Future[Message]]:
        """Produce every item; return one future per item, resolved on Kafka's ack.

        Serialisation problems of a fact turn it into a dead letter, never a crash.
        """
        futures = []
        for item in items:
            fut, acked = _future()
            self._send(item, acked)
            futures.append(fut)
        return futures

    def _dead_letter(self, item: DeadLetter, acked: Acked) -> None:
        scrubbed, redacted = scrub(item.raw) if item.raw is not None else (None, False)
        raw, original_size = clip(scrubbed)
        headers = error_headers(topic=self._topic(item.topic), stage=item.stage, error=item.error,
                                source=self.connector, where=item.where, redacted=redacted,
                                original_size=original_size)
        log.warning("dead letter", extra={"connector": self.connector, "topic": item.topic,
                                          "stage": item.stage, "error": str(item.error)[:300],
                                          "where": item.where})
        self._produce(dlq_of(item.topic), item.key, raw, headers, acked)

    def _check(self, acks: _Acks, count: int, where: str) -> None:
        """Raise unless Kafka acknowledged all ``count`` records of ``acks``."""
        if acks.left or acks.errors:
            self._child("up").set(0)
            first = acks.errors[0] if acks.errors else None
            raise DeliveryError(f"{acks.left + len(acks.errors)} of {count} records not "
                                f"acknowledged by Kafka{where}" + (f": {first}" if first else " in time"),
                                retry_after=2.0)

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
        all_in = threading.Event()
        acks = _Acks(len(items), all_in.set)
        self._send_all(items, acks)
        all_in.wait(timeout if timeout is not None else self.settings.connector.delivery_timeout_s + 5.0)
        self._check(acks, len(items), f" at {self.settings.kafka.bootstrap_servers}")
        self._account(items, time.monotonic() - t0)

    async def publish_async(self, items: Sequence[SourceRecord | DeadLetter],
                            timeout: float | None = None) -> None:
        """``publish`` for asyncio servers: awaits the acks without blocking the loop."""
        if not items:
            return
        t0 = time.monotonic()
        loop = asyncio.get_running_loop()
        all_in: asyncio.Future[None] = loop.create_future()
        acks = _Acks(len(items), _wake(loop, all_in))
        if any(isinstance(i, DeadLetter) for i in items):  # scrubbing a large body is CPU work:
            await asyncio.to_thread(self._send_all, items, acks)  # keep it off the event loop
        else:
            self._send_all(items, acks)
        await self._acked(all_in, timeout)
        self._check(acks, len(items), "")
        self._account(items, time.monotonic() - t0)

    def _child(self, name: str, *labels: str) -> Any:
        """``metrics.<name>.labels(connector, *labels)``, looked up once (it takes a lock)."""
        key = (name, *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = getattr(self.metrics, name).labels(self.connector, *labels)
        return child

    def _account(self, items: Sequence[SourceRecord | DeadLetter], seconds: float) -> None:
        self._child("up").set(1)
        self._child("publish_latency").observe(seconds)
        self._child("last_success").set(time.time())
        for item in items:
            if isinstance(item, SourceRecord):
                self._child("records_out", item.topic).inc()
            else:
                self._child("dlq", item.topic).inc()
                self._child("records_failed", item.stage).inc()

    def produce_raw(self, topic: str, key: str, value: bytes | None) -> cf.Future[Message]:
        """Produce bytes as they are (used by the position store)."""
        fut, acked = _future()
        self._produce(topic, key, value, None, acked)
        return fut

    async def produce_raw_async(self, topic: str, key: str, value: bytes | None,
                                timeout: float | None = None) -> None:
        """``produce_raw`` for an event loop: awaits Kafka's ack as ``publish_async`` does (one
        wake-up, no future per record handed over, no task).

        Raises:
            DeliveryError: not acknowledged in time, or refused.

        """
        loop = asyncio.get_running_loop()
        acked: asyncio.Future[None] = loop.create_future()
        acks = _Acks(1, _wake(loop, acked))
        self._produce(topic, key, value, None, acks)
        await self._acked(acked, timeout)
        self._check(acks, 1, "")

    async def _acked(self, last: asyncio.Future[None], timeout: float | None) -> None:
        """Wait until ``last`` (the last delivery report) or ``timeout`` (default: the delivery
        timeout and 5 s; ``Deadlines`` resolves ``last`` then); what was not acknowledged by
        then is for ``_check`` to count."""
        if not last.done():
            self._deadlines.resolve_after(last, timeout if timeout is not None
                                          else self.settings.connector.delivery_timeout_s + 5.0)
        await last

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

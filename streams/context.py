"""What every domain module of the streams app is given: the Faust app, the settings,
the codec, metrics and the topics (by unprefixed catalog name); and the few Faust
details the batched agents need (table partition of an event, bulk sends, dead letters).
Which domain feeds which is not here: ``streams.app`` builds that graph."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from bus.codec import MOVE_HEADER  # noqa: F401 - re-exported: the streams' name for it
from bus.deadletter import error_headers
from bus.errors import RetriableError
from bus.log import get_logger
from bus.settings import Settings
from bus.tenants import tenant_of_topic
from bus.topics import PARTITIONS, dlq_of, spec, topic_name
from streams.codec import KIND_HEADER, FactCodec
from streams.delivery import drain
from streams.faust_hooks import set_current_event
from streams.metrics import StreamsMetrics
from streams.outbox import Outbox
from streams.store import JsonMap, RawTable
from streams.tenancy import TENANT_HEADER

__all__ = ["BATCH_MAX", "BATCH_WITHIN_S", "MOVE_HEADER", "Out", "StreamsContext", "batches", "header",
           "in_partition_of", "now_ms", "to_ms"]

log = get_logger("streams")

#: ``errors.source`` of the worker's dead letters.
SOURCE = "streams"

#: Most facts an agent takes at once: state is read and written once per key per batch.
BATCH_MAX = 1000
#: Longest an agent waits to fill a batch; bounds the latency batching adds. 0: a batch is
#: what the agent's queue holds when it asks (a fetch's records reach the queue together;
#: a backlog fills batches to ``BATCH_MAX`` anyway). Waiting 5 ms for more, per hop, was
#: ~30% of the worker's fact -> availability latency at 1,000 facts/s, for ~8% less CPU at
#: that rate (``python -m bench.latency_ab``; ``bench/results/issue14``, session 20).
BATCH_WITHIN_S = 0.0


#: RocksDB of every table partition (a worker holds ~30: 7 tables x 4 partitions and more):
#: small memtables. Faust's defaults (64 MB write buffers x 3, a 2 GB block cache, per
#: database) kept every state value and every overwritten version in memory at 100,000
#: performances (~180 MB of the worker's ~900 MB); the state is recovered from its
#: changelogs, so what RocksDB flushes to disk early costs only background CPU.
ROCKSDB = {"write_buffer_size": 4 * 1024 * 1024, "max_write_buffer_number": 2,
           "block_cache_size": 8 * 1024 * 1024}
#: What all of a worker's databases share (``streams.faust_hooks.share_rocksdb_memory``):
#: one block cache (in place of ``block_cache_size`` above), and one budget for their
#: memtables, past which RocksDB flushes memtables early. Measured at 100,000 performances:
#: the worker's peak RSS 722 -> 678 MB, its throughput unchanged (bench/results/issue14).
ROCKSDB_SHARED_CACHE = 16 * 1024 * 1024
ROCKSDB_SHARED_WRITE_BUFFERS = 32 * 1024 * 1024

#: A record to publish: (unprefixed topic, key, value or None for a tombstone, kind header),
#: optionally followed by the ``MOVE_HEADER`` value of a moved fact and the tenant it came
#: from (``streams.tenancy.TENANT_HEADER``; either may be None).
Out = (tuple[str, str, bytes | None, str | None] | tuple[str, str, bytes | None, str | None, str]
       | tuple[str, str, bytes | None, str | None, str | None, str | None])


def now_ms() -> int:
    return int(time.time() * 1000)


def to_ms(value: Any) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return int(value.timestamp() * 1000)


def header(event: Any, name: str) -> str | None:
    headers = event.headers or {}
    items = headers.items() if isinstance(headers, dict) else headers
    for k, v in items:
        if k == name:
            return v.decode() if isinstance(v, bytes) else str(v)
    return None


def _headers_of(event: Any) -> list[tuple[str, str | bytes | None]]:
    headers = event.headers or {}
    return list(headers.items() if isinstance(headers, dict) else headers)


def in_partition_of(event: Any) -> None:
    """Make table reads and writes that follow use ``event``'s partition.

    Faust ties a table access to the event being processed; a batch from
    ``take_events`` has no such event (faust-streaming issue #497), so the agent names
    the event of the key it is about to touch. Every key of one performance lives in
    the partition of its facts, so any of its events will do.
    """
    set_current_event(event)


async def batches(stream: Any) -> AsyncIterator[list[Any]]:
    """The stream's events in batches of up to BATCH_MAX, waiting at most BATCH_WITHIN_S
    (taken from the agent's queue by ``streams.delivery.drain``).

    Offsets of a batch are acknowledged only after the caller is done with it (and
    committed only after the producer flushed what it sent): at-least-once.
    """
    async for events in drain(stream, BATCH_MAX, BATCH_WITHIN_S):
        yield events


class RawSchema(faust.Schema):
    """Keys and values as the bytes that came (what Faust's ``raw`` serializer gives, for
    ``bytes`` types, None for None), without the serializer registry's lookups per message:
    Faust decodes every message of an agent's topic through the schema (~2% of the worker's
    CPU per hop, py-spy)."""

    def loads_key(self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None) -> Any:
        return message.key

    def loads_value(self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None) -> Any:
        return message.value


@dataclass
class StreamsContext:
    app: faust.App
    settings: Settings
    codec: FactCodec
    metrics: StreamsMetrics
    registry: CollectorRegistry
    _topics: dict[str, faust.TopicT] = field(default_factory=dict)
    _partitions: dict[str, int] = field(default_factory=dict)
    outbox: Outbox = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.app)

    def table(self, name: str, help: str, partitions: int = PARTITIONS) -> JsonMap:  # noqa: A002 - Faust's word
        """A JSON-valued RocksDB table with a changelog, co-partitioned with the facts (unless
        ``partitions`` says otherwise), written through the outbox (``streams.store.JsonMap``)."""
        return JsonMap(self.raw_table(name, help, partitions))

    def raw_table(self, name: str, help: str, partitions: int = PARTITIONS) -> RawTable:  # noqa: A002
        """A bytes-valued RocksDB table with a changelog, co-partitioned with the facts (unless
        ``partitions`` says otherwise), written through the outbox (see ``streams.store``)."""
        table = self.app.Table(name, default=None, partitions=partitions, help=help, options=ROCKSDB,
                               key_type=bytes, value_type=bytes,
                               schema=faust.Schema(key_type=bytes, value_type=bytes, key_serializer="raw",
                                                   value_serializer="raw"))
        return RawTable(table, self.outbox)

    def name(self, topic: str) -> str:
        return topic_name(topic, self.settings.topic_prefix)

    def topic(self, *topics: str) -> faust.TopicT:
        """A raw-bytes Faust topic over one or more catalog topics."""
        key = "+".join(topics)
        t = self._topics.get(key)
        if t is None:
            t = self.app.topic(*(self.name(x) for x in topics),
                               schema=RawSchema(key_type=bytes, value_type=bytes, key_serializer="raw",
                                                value_serializer="raw"))
            self._topics[key] = t
        return t

    async def send(self, topic: str, key: str, value: bytes | None, kind: str | None = None) -> None:
        """Publish one record (a None value is a tombstone)."""
        await self.send_all([(topic, key, value, kind)])

    async def send_all(self, records: Iterable[Out]) -> None:
        """Publish records (and the table writes queued so far) in bulk through the app's
        producer; the next offset commit waits until the broker has them."""
        outbox = self.outbox
        for record in records:
            topic, key, value, kind = record[:4]
            raw_key = key.encode()
            partitions = self._partitions.get(topic)
            if partitions is None:
                partitions = self._partitions[topic] = spec(topic).partitions
            headers = [(KIND_HEADER, kind.encode())] if kind else None
            if len(record) > 4:
                headers = headers or []
                if record[4]:
                    headers.append((MOVE_HEADER, record[4].encode()))
                if len(record) > 5 and record[5]:
                    headers.append((TENANT_HEADER, record[5].encode()))
            outbox.add(self.name(topic), outbox.partition(raw_key, partitions), raw_key, value, headers)
        await outbox.flush()

    async def dead_letter(self, event: Any, error: Exception, agent: str, stage: str = "decode") -> None:
        """Send a message the worker cannot use to its topic's DLQ, with its original key,
        value, timestamp and headers and the ``errors.*`` headers; never crash."""
        msg = event.message
        topic = msg.topic
        prefix = self.settings.topic_prefix
        ingest = tenant_of_topic(topic, prefix)
        # a tenant's ingest topic has no dead-letter twin: its family's DLQ, errors.topic names it
        base = ingest[1] if ingest else topic[len(prefix):] if topic.startswith(prefix) else topic
        self.metrics.decode_errors.labels(base).inc()
        headers = error_headers(topic=topic, partition=msg.partition, offset=msg.offset, stage=stage,
                                error=error, source=SOURCE, group=self.app.conf.id,
                                original=_headers_of(event))
        # Faust keeps the timestamp in seconds (a float) and sends int(seconds * 1000):
        # half a millisecond more keeps the original millisecond through that round trip
        ts = getattr(msg, "timestamp", None)
        seconds = (round(ts * 1000) + 0.5) / 1000 if ts and ts > 0 else None
        await self.app.producer.send(self.name(dlq_of(base)), event.key, event.value, partition=None,
                                     timestamp=seconds,
                                     headers=[(k, v if isinstance(v, bytes) else (v or "").encode())
                                              for k, v in headers])
        log.warning("dead letter", extra={"agent": agent, "topic": topic, "stage": stage,
                                          "offset": msg.offset, "error": str(error)[:300]})

    async def apply_batches(self, stream: Any, agent: str,
                            apply: Callable[[Any, list[Out]], Awaitable[Exception | None]],
                            after: Callable[[], None] | None = None) -> None:
        """An agent's loop over ``stream`` in batches: each event in offset order to
        ``apply(event, out)``, which returns the error of an event it refuses (dead-lettered,
        stage ``apply``) or None; then ``after()`` (if given) and ``out`` published."""
        events_of = self.metrics.events_of(agent)
        async for events in batches(stream):
            events_of.inc(len(events))
            out: list[Out] = []
            for event in events:
                refused = await apply(event, out)
                if refused is not None:
                    await self.dead_letter(event, refused, agent, "apply")
            if after is not None:
                after()
            await self.send_all(out)

    async def decoded(self, decode: Callable[[bytes], Any], event: Any, agent: str) -> Any:
        """``decode(event.value)``, or None when it cannot be decoded and was dead-lettered
        (after waiting while the registry is away: see :meth:`decode_or_dead_letter`)."""
        try:
            return decode(event.value)
        except Exception as exc:  # noqa: BLE001 - never stop on a record
            return await self.decode_or_dead_letter(decode, event, exc, agent)

    async def decode_or_dead_letter(self, decode: Callable[[bytes], Any], event: Any, error: Exception,
                                    agent: str) -> Any:
        """After ``decode(event.value)`` raised ``error``: wait and decode again while the
        registry is away (retriable, not the record's fault), else dead-letter the event.

        Returns:
            what ``decode`` returned once it worked, or None when the event was dead-lettered.

        """
        while isinstance(error, RetriableError):
            log.warning("cannot decode now; waiting", extra={"agent": agent, "error": str(error)[:300],
                                                             "wait_s": error.retry_after})
            await asyncio.sleep(error.retry_after)
            try:
                return decode(event.value)
            except Exception as exc:  # noqa: BLE001 - judged again by the loop
                error = exc
        await self.dead_letter(event, error, agent, "decode")
        return None

    def observe(self, agent: str, facts: Iterable[dict[str, Any]]) -> None:
        """Latency and age of facts whose state was just published."""
        now = time.time()
        latency, age = self.metrics.latency_of(agent), self.metrics.fact_age_of(agent)
        for fact in facts:
            ing = to_ms(fact.get("ingested_at"))
            if ing is not None:
                latency.observe(max(now - ing / 1000, 0.0))
            et = to_ms(fact.get("event_time"))
            if et is not None:
                age.observe(max(now - et / 1000, 0.0))

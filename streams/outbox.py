"""Sending what a batch produced in bulk: one record batch per topic partition.

Per record, Faust's send path (``Topic.send`` or a table's changelog buffer, then
``Producer.send``, then aiokafka's ``send`` with its pure-Python murmur2 partitioner and
per-record futures and callbacks) cost more CPU than the state logic itself, and records
trickling in one by one made aiokafka write a produce request for almost every record.
The outbox collects the records and table changelog writes of a batch, builds one
aiokafka record batch per topic partition and hands them all to the producer at once.

Guarantees are Faust's: the records go through the app's own aiokafka producer, which
every offset commit flushes first, so a batch's offsets are committed only after its
records and changelog writes are on the broker (at-least-once). Records of one topic
partition keep the order they were added in (flushes are serialized). The Faust and
aiokafka internals this needs are used through ``streams.faust_hooks``.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

from faust.types import TP

from bus.log import get_logger
from streams.faust_hooks import create_batch, mark_persisted, producer_of, send_batch, table_store

__all__ = ["Outbox", "murmur2"]

Headers = list[tuple[str, bytes]]
_CACHE_MAX = 200_000
log = get_logger(__name__)


_M = 0x5BD1E995


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of a key (unsigned 32-bit), as Java's ``Utils.murmur2``;
    twice as fast as aiokafka's byte-by-byte one."""
    n = len(data)
    h = (0x9747B28C ^ n) & 0xFFFFFFFF
    n4 = n >> 2
    for k in struct.unpack_from(f"<{n4}I", data):
        k = (k * _M) & 0xFFFFFFFF
        k ^= k >> 24
        h = ((h * _M) & 0xFFFFFFFF) ^ ((k * _M) & 0xFFFFFFFF)
    rest = n & 3
    if rest:
        i = n4 << 2
        if rest == 3:
            h ^= data[i + 2] << 16
        if rest >= 2:
            h ^= data[i + 1] << 8
        h ^= data[i]
        h = (h * _M) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * _M) & 0xFFFFFFFF
    return h ^ (h >> 15)


class Outbox:
    def __init__(self, app: Any) -> None:
        self.app = app
        self._groups: dict[tuple[str, int], list[tuple[bytes | None, bytes | None, Headers | None]]] = {}
        self._persist: dict[tuple[str, int], Any] = {}  # changelog topic partition -> store
        self._partitions: dict[tuple[bytes, int], int] = {}
        self._changelogs: dict[int, str] = {}
        self._lock = asyncio.Lock()

    def partition(self, key: bytes, partitions: int) -> int:
        """Kafka's default partition of a key (murmur2, as Java, aiokafka and our producers)."""
        cached = self._partitions.get((key, partitions))
        if cached is None:
            if len(self._partitions) > _CACHE_MAX:
                self._partitions.clear()
            cached = self._partitions[(key, partitions)] = (murmur2(key) & 0x7FFFFFFF) % partitions
        return cached

    def add(self, topic: str, partition: int, key: bytes | None, value: bytes | None,
            headers: Headers | None = None) -> None:
        """Queue a record for ``topic`` (full name) and partition; sent by the next flush."""
        group = self._groups.get((topic, partition))
        if group is None:
            group = self._groups[(topic, partition)] = []
        group.append((key, value, headers))

    def changelog(self, table: Any, partition: int, key: bytes, value: bytes | None) -> None:
        """Queue a changelog write of ``table`` (its local store is written by the caller);
        once on the broker, the table's persisted offset moves on, as Faust's own writes do."""
        topic = self._changelogs.get(id(table))
        if topic is None:
            topic = self._changelogs[id(table)] = table.changelog_topic.get_topic_name()
        self._persist.setdefault((topic, partition), table_store(table))
        self.add(topic, partition, key, value)

    async def flush(self) -> None:
        """Hand every queued record to the producer; returns once they (and whatever other
        tasks queued before) are in it, so a caller may then let its offsets be committed."""
        async with self._lock:  # also when nothing is queued: another flush may be sending ours
            groups, self._groups = self._groups, {}
            producer = producer_of(self.app)
            for (topic, partition), records in groups.items():
                # In turn, not gathered: each returns at once unless a batch of the same
                # partition still waits for the broker, and then all wait for the same answer.
                await self._send(producer, topic, partition, records)

    async def _send(self, producer: Any, topic: str, partition: int,
                    records: list[tuple[bytes | None, bytes | None, Headers | None]]) -> None:
        store = self._persist.get((topic, partition))
        batch = create_batch(producer)
        count = 0
        for key, value, headers in records:
            if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                await self._submit(producer, batch, topic, partition, count, store)
                batch, count = create_batch(producer), 0
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    raise ValueError(f"a record of {len(value or b'')} bytes does not fit a batch "
                                     f"for {topic}: raise streams.app producer_max_batch_size")
            count += 1
        await self._submit(producer, batch, topic, partition, count, store)

    async def _submit(self, producer: Any, batch: Any, topic: str, partition: int, count: int,
                      store: Any) -> None:
        fut = await send_batch(producer, batch, topic, partition)
        fut.add_done_callback(_delivered(store, TP(topic, partition), count))


def _delivered(store: Any, tp: TP, count: int) -> Callable[[Any], None]:
    def done(fut: Any) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            log.error("records not delivered", extra={"topic": tp.topic, "partition": tp.partition,
                                                      "count": count, "error": repr(exc)[:300]})
        elif store is not None:
            mark_persisted(store, tp, fut.result().offset + count - 1)
    return done

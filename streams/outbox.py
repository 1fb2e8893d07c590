"""Sending what a batch produced in bulk: one record batch per topic partition.

Per record, Faust's send path (``Topic.send`` or a table's changelog buffer, then
``Producer.send``, then aiokafka's ``send`` with its pure-Python murmur2 partitioner and
per-record futures and callbacks) cost more CPU than the state logic itself, and records
trickling in one by one made aiokafka write a produce request for almost every record.
The outbox collects the records and table changelog writes of a batch, builds one
aiokafka record batch per topic partition and hands them all to the producer at once.

Guarantees: the records go through the app's own aiokafka producer, which every offset
commit flushes first, and before each commit the worker checks that the broker took
every batch (:meth:`Outbox.all_delivered`): once one was refused, nothing more is
committed and the worker stops, so a batch's offsets are committed only after its records
and changelog writes are on the broker (at-least-once). Records of one topic partition
keep the order they were added in (flushes are serialized; what a failed or cancelled
flush had not handed on is queued again first). The Faust and aiokafka internals this
needs are used through ``streams.faust_hooks``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from confluent_kafka import murmur2
from faust.types import TP

from bus.errors import DeliveryError
from bus.log import get_logger
from streams.faust_hooks import create_batch, mark_persisted, producer_of, send_batch, table_store

__all__ = ["Outbox"]

Headers = list[tuple[str, bytes]]
Record = tuple[bytes | None, bytes | None, Headers | None]
log = get_logger(__name__)


class Outbox:
    def __init__(self, app: Any) -> None:
        self.app = app
        self._groups: dict[tuple[str, int], list[Record]] = {}
        self._persist: dict[tuple[str, int], Any] = {}  # changelog topic partition -> store
        self._changelogs: dict[int, str] = {}
        self._lock = asyncio.Lock()
        self._in_flight: set[asyncio.Future[Any]] = set()
        #: The first error of a record batch the broker did not take (None while all were).
        self.undelivered: BaseException | None = None

    def partition(self, key: bytes, partitions: int) -> int:
        """Kafka's default partition of a key: murmur2, as Java, aiokafka and our producers
        (confluent-kafka's C function, ~0.1 µs a key: no cache of keys needed, which at
        100,000 performances held ~20 MB of them)."""
        return murmur2(key, partitions)

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
        tasks queued before) are in it, so a caller may then let its offsets be committed.

        The queue is shared by every agent and timer of the worker: a flush sends what the
        others queued too, and they wait for it (the lock) instead of sending again. A flush
        that fails or is cancelled halfway (a worker stopping cancels its agents and timers)
        puts what it had not handed on back at the head of the queue before it lets the next
        flush in, so a flush that returns has always handed on everything queued before it."""
        async with self._lock:  # also when nothing is queued: another flush may be sending ours
            groups, self._groups = self._groups, {}
            try:
                producer = producer_of(self.app)
                while groups:
                    (topic, partition), records = next(iter(groups.items()))
                    # In turn, not gathered: each returns at once unless a batch of the same
                    # partition still waits for the broker, and then all wait for the same answer.
                    await self._send(producer, topic, partition, records)
                    del groups[(topic, partition)]
            except BaseException as exc:
                self._put_back(groups, exc)
                raise

    def _put_back(self, groups: dict[tuple[str, int], list[Record]], exc: BaseException) -> None:
        """Queue ``groups`` (not handed on) again ahead of what was queued since, in order."""
        left = sum(len(records) for records in groups.values())
        log.warning("records not handed to the producer were queued again", extra={
            "records": left, "partitions": len(groups), "error": repr(exc)[:300]})
        merged = {tp: records for tp, records in groups.items() if records}
        for tp, records in self._groups.items():
            merged.setdefault(tp, []).extend(records)
        self._groups = merged

    async def _send(self, producer: Any, topic: str, partition: int, records: list[Record]) -> None:
        """Send ``records`` in record batches; removes from it each record handed on (all of
        them unless this raises)."""
        store = self._persist.get((topic, partition))
        handed = 0  # records[:handed] are with the producer
        try:
            batch = create_batch(producer)
            count = 0
            for key, value, headers in records:
                if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                    await self._submit(producer, batch, topic, partition, count, store)
                    handed += count
                    batch, count = create_batch(producer), 0
                    if batch.append(key=key, value=value, timestamp=None, headers=headers) is None:
                        raise ValueError(f"a record of {len(value or b'')} bytes does not fit a batch "
                                         f"for {topic}: raise streams.app producer_max_batch_size")
                count += 1
            await self._submit(producer, batch, topic, partition, count, store)
            handed += count
        finally:
            del records[:handed]

    async def _submit(self, producer: Any, batch: Any, topic: str, partition: int, count: int,
                      store: Any) -> None:
        fut = await send_batch(producer, batch, topic, partition)
        self._in_flight.add(fut)
        fut.add_done_callback(self._delivered(store, TP(topic, partition), count))

    async def all_delivered(self) -> None:
        """Wait for the broker's answer to every record batch handed on so far (the worker
        calls it before each offset commit: ``streams.faust_hooks.guard_commits``).

        Raises:
            DeliveryError: a batch was not delivered (since the worker started): no offset
                may be committed past its facts, whose state this worker holds but the
                changelogs do not; the worker stops, and its next start recovers its tables
                from the changelogs and applies those facts again.

        """
        if self._in_flight:
            await asyncio.wait(list(self._in_flight))
        if self.undelivered is not None:
            raise DeliveryError(f"records the worker produced were not delivered ({self.undelivered!r}); "
                                "not committing past their facts: restart the worker (it will recover "
                                "its tables and apply those facts again) once Kafka takes writes") \
                from self.undelivered

    def track(self, fut: asyncio.Future[Any]) -> None:
        """Count a record sent past the outbox (Faust's own changelog writes, dead letters:
        ``streams.faust_hooks.tracking_producer``) in :meth:`all_delivered`."""
        self._in_flight.add(fut)
        fut.add_done_callback(self._delivered(None, None, 1))

    def _delivered(self, store: Any, tp: TP | None, count: int) -> Callable[[Any], None]:
        def done(fut: Any) -> None:
            self._in_flight.discard(fut)
            exc = asyncio.CancelledError() if fut.cancelled() else fut.exception()
            if exc is not None:
                log.error("records not delivered: the worker will not commit past their facts", extra={
                    "topic": tp.topic if tp else None, "partition": tp.partition if tp else None,
                    "count": count, "error": repr(exc)[:300]})
                if self.undelivered is None:
                    self.undelivered = exc
            elif store is not None and tp is not None:
                mark_persisted(store, tp, fut.result().offset + count - 1)
        return done

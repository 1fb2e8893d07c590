"""Every worker's full view of the compacted identity topic (a global table by hand):
read to its end before the worker starts, then followed in a background thread, by the
bus's compacted-topic reader. A link that cannot be read goes to
``participation.identity.dlq`` and the worker starts anyway.

After every rebalance the streams wait until the reader has read what its topics held
then (:meth:`CrosswalkReader.read_to_now`): a partition taken over from another worker
is routed with every link that worker had published, not a link it had moved on from.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

from confluent_kafka import TopicPartition
from prometheus_client import CollectorRegistry

from bus.compacted import CompactedMetrics, CompactedReader, Handler, Record
from bus.errors import RetriableError
from bus.kafka import make_consumer
from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import IDENTITY, topic_name
from streams.identity.crosswalk import Crosswalk

__all__ = ["CrosswalkReader"]


class CrosswalkReader:
    """Reads ``participation.identity`` into a :class:`Crosswalk`.

    Lifecycle: ``start(timeout)`` starts the reader and blocks until it read every
    partition to its end, then returns while it follows the topic; ``stop()`` only
    signals (the reader's thread closes its consumer and flushes its dead letters);
    ``close()`` stops and joins.

    Args:
        settings: bus settings (kafka, topic prefix).
        crosswalk: the crosswalk to fill.
        registry: where writer schemas come from.
        metrics_registry: where the reader's counts register (default: a fresh one).

    """

    def __init__(self, settings: Settings, crosswalk: Crosswalk, registry: Registry,
                 metrics_registry: CollectorRegistry | None = None) -> None:
        self.topic = topic_name(IDENTITY, settings.topic_prefix)
        self.kafka = settings.kafka
        self._ends_client: Any = None
        self._ends_lock = threading.Lock()
        self.crosswalk = crosswalk
        self.metrics = CompactedMetrics(metrics_registry or CollectorRegistry(), "crosswalk")
        self.reader = CompactedReader(
            settings.kafka,
            {self.topic: Handler(IDENTITY, AvroDeserializer(registry, "identity_link.avsc"), self._apply)},
            source="crosswalk", count=self.metrics.count,
            on_ready=lambda: self.metrics.ready.labels("crosswalk").set(1),
            isolation_level="read_uncommitted")
        self.caught_up = self.reader.ready

    def _apply(self, rec: Record) -> str:
        if rec.key is None:
            raise ValueError("identity link without a key; the key must be namespace|value")
        key = rec.key.decode()  # not UTF-8: a dead letter, not a crosswalk entry
        if rec.value is None:
            return "tombstone"  # links are sticky (see Crosswalk): a tombstone removes nothing
        reason = str(rec.value.get("reason") or "identifier")
        if not self.crosswalk.follow(key, str(rec.value["performance_id"]), reason):
            return "stale"  # older than a link this worker set itself (Crosswalk.follow)
        return "applied"

    @property
    def healthy(self) -> bool:
        return self.reader.healthy

    def start(self, timeout: float = 60.0) -> None:
        """Read the topic to its end (blocking), then keep following it.

        Raises:
            RetriableError: not read to its end within ``timeout`` (topic missing, Kafka
                unreachable); the reader is stopped.

        """
        self.reader.start()
        if not self.reader.wait_ready(timeout):
            why = self.reader.error or "no end reached"
            self.reader.close()
            raise RetriableError(f"timed out reading {self.topic} to its end ({why}); is Kafka up and "
                                 "the catalog applied (`cultuurbus topics apply`)?")

    def end_offsets(self, timeout: float = 10.0) -> dict[tuple[str, int], int]:
        """The end offset of every partition the reader follows, now (blocking: from a thread
        of its own, not the event loop), through a client of its own."""
        with self._ends_lock:
            if self._ends_client is None:
                group = f"cultuurbus-crosswalk-ends-{uuid.uuid4().hex[:12]}"  # never joined: no group
                self._ends_client = make_consumer(self.kafka, group)
            client = self._ends_client
            ends = {}
            for topic in self.reader.handlers:
                meta = client.list_topics(topic, timeout=timeout).topics.get(topic)
                for p in sorted(meta.partitions) if meta is not None and meta.error is None else ():
                    ends[(topic, p)] = int(client.get_watermark_offsets(TopicPartition(topic, p), timeout)[1])
            return ends

    async def read_to_now(self, timeout: float) -> bool:
        """Wait until the reader has read every partition up to its end offset as of this
        call; whether it did within ``timeout`` seconds (False also when the end offsets
        could not be asked for)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            ends = await asyncio.wait_for(asyncio.to_thread(self.end_offsets), timeout)
        except Exception:  # noqa: BLE001 - Kafka away or slow: the caller says what it means
            return False
        while True:
            read = self.reader.positions()
            if all(read.get(tp, 0) >= end for tp, end in ends.items()):
                return True
            if loop.time() > deadline:
                return False
            await asyncio.sleep(0.01)

    def stop(self) -> None:
        self.reader.stop()
        self._close_ends()

    def close(self, timeout: float = 10.0) -> None:
        self.reader.close(timeout)
        self._close_ends()

    def _close_ends(self) -> None:
        with self._ends_lock:
            client, self._ends_client = self._ends_client, None
        if client is not None:
            client.close()

"""Every worker's full view of the compacted identity topic (a global table by hand):
read to its end before the worker starts, then tailed in a background thread."""

from __future__ import annotations

import threading
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from bus.errors import RetriableError
from bus.kafka import make_consumer
from bus.log import get_logger
from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import IDENTITY
from streams.identity.crosswalk import Crosswalk

__all__ = ["CrosswalkReader"]

log = get_logger(__name__)


class CrosswalkReader:
    """Lifecycle: ``start(timeout)`` catches up (blocking) then tails; ``stop()`` signals."""

    def __init__(self, settings: Settings, crosswalk: Crosswalk, registry: Registry) -> None:
        self.topic = settings.topic_prefix + IDENTITY
        self.crosswalk = crosswalk
        self._de = AvroDeserializer(registry, "identity_link.avsc")
        self._consumer = make_consumer(settings.kafka, f"crosswalk-{uuid.uuid4().hex[:8]}",
                                       isolation_level="read_uncommitted")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.caught_up = threading.Event()

    def _apply(self, msg) -> None:  # type: ignore[no-untyped-def]
        key = (msg.key() or b"").decode()
        if msg.value() is None:
            return
        try:
            rec = self._de(msg.value())
        except Exception as exc:  # noqa: BLE001 - a bad link must not stop the worker
            log.warning("undecodable identity link", extra={"key": key, "error": str(exc)})
            return
        if rec is not None:
            self.crosswalk.put(key, rec["performance_id"])

    def start(self, timeout: float = 60.0) -> None:
        meta = self._consumer.list_topics(self.topic, timeout=10)
        tmeta = meta.topics.get(self.topic)
        if tmeta is None or tmeta.error is not None:
            raise RetriableError(f"identity topic {self.topic} missing; run `cultuurbus topics apply`")
        parts = [TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in tmeta.partitions]
        ends = {}
        for tp in parts:
            lo, hi = self._consumer.get_watermark_offsets(TopicPartition(self.topic, tp.partition),
                                                          timeout=10)
            if hi > lo:
                ends[tp.partition] = hi
        self._consumer.assign(parts)
        deadline = time.monotonic() + timeout
        done: set[int] = set()
        while len(done) < len(ends):
            if time.monotonic() > deadline:
                raise RetriableError(f"timed out reading {self.topic} to its end")
            msg = self._consumer.poll(0.2)
            if msg is None or msg.error():
                continue
            self._apply(msg)
            part, offset = msg.partition() or 0, msg.offset() or 0
            if part in ends and offset >= ends[part] - 1:
                done.add(part)
        self.caught_up.set()
        log.info("crosswalk loaded", extra={"links": len(self.crosswalk)})
        self._thread = threading.Thread(target=self._tail, name="crosswalk", daemon=True)
        self._thread.start()

    def _tail(self) -> None:
        try:
            while not self._stop.is_set():
                msg = self._consumer.poll(0.1)
                if msg is None or msg.error():
                    continue
                self._apply(msg)
        finally:
            self._consumer.close()

    def stop(self) -> None:
        self._stop.set()

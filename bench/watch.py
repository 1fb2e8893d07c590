"""Watching an availability topic from the outside: a consumer thread that decodes every
record and knows when each performance has reached the numbers the dataset leads to.

Counting records is not enough (a processor may publish one record for several facts
of a performance); the final ``sold``, ``reserved`` and ``blocked`` per performance are
what every correct processor must reach, ours and the peers alike. The moment this
reader receives the record that completes the last performance ends the timing (not
the record's Kafka timestamp: some processors, Quix Streams for one, give output
records the input's timestamp). Each record's
``last_fact_time`` also gives the fact -> availability latency when facts carry their
send time (see ``bench.latency``).
"""

from __future__ import annotations

import io
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import fastavro
from confluent_kafka import TopicPartition

from bench.kafkaio import bench_consumer, high_watermark
from bus.serde import Registry
from bus.settings import Settings

__all__ = ["AvailabilityWatch", "Target"]

Target = tuple[int, int, int]  # sold, reserved, blocked
_HEADER = struct.Struct(">bI")


class AvailabilityWatch:
    """Lifecycle: ``start()`` assigns every partition at its end (only new records) and
    reads in a thread; ``expect(targets)`` sets what "done" means; ``wait(timeout)``;
    ``close()`` stops and joins. ``on_record(pid, rec, recv_time, produced_ms)`` sees every
    record (``produced_ms``: the record's Kafka timestamp, the time its producer took it)."""

    def __init__(self, settings: Settings, topic: str, registry: Registry,
                 on_record: Callable[[str, dict[str, Any], float, int], None] | None = None) -> None:
        self.topic = topic
        self._registry = registry
        self._schemas: dict[int, Any] = {}
        self._c = bench_consumer(settings, fetch_wait_max_ms=5)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.on_record = on_record
        self.records = 0
        self.latest: dict[str, Target] = {}
        self._targets: dict[str, Target] | None = None
        self._open: set[str] = set()
        self._done = threading.Event()
        self.done_at = 0.0  # epoch seconds the last open performance was completed
        self.error: str | None = None

    def start(self) -> AvailabilityWatch:
        meta = self._c.list_topics(self.topic, timeout=10).topics[self.topic]
        parts = []
        for p in meta.partitions:  # explicit end offsets: nothing produced after this is missed
            parts.append(TopicPartition(self.topic, p, high_watermark(self._c, self.topic, p)))
        self._c.assign(parts)
        self._thread = threading.Thread(target=self._run, name="availability-watch", daemon=True)
        self._thread.start()
        return self

    def expect(self, targets: dict[str, Target] | None, present: list[str] | None = None) -> None:
        """Done when every pid in ``targets`` shows its target (or, with ``present``, once
        every listed pid has any record)."""
        with self._lock:
            self._done.clear()
            self.done_at = 0.0
            if targets is not None:
                self._targets = dict(targets)
                self._open = {p for p, t in targets.items() if self.latest.get(p) != t}
            else:
                self._targets = None
                self._open = {p for p in (present or []) if p not in self.latest}
            if not self._open:
                self._done.set()

    def wait(self, timeout: float) -> bool:
        return self._done.wait(timeout)

    @property
    def remaining(self) -> int:
        return len(self._open)

    def _decode(self, value: bytes) -> dict[str, Any]:
        _, sid = _HEADER.unpack_from(value)
        schema = self._schemas.get(sid)
        if schema is None:
            schema = self._schemas[sid] = self._registry.writer_schema(sid)
        return fastavro.schemaless_reader(io.BytesIO(value[5:]), schema, None)  # type: ignore[return-value]

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                for msg in self._c.consume(1000, 0.002):  # a receive time within ~2 ms
                    value = msg.value()
                    if msg.error() is not None or value is None:
                        continue
                    now = time.time()
                    rec = self._decode(value)
                    pid = (msg.key() or b"").decode()
                    got = (int(rec["sold"]), int(rec["reserved"]), int(rec["blocked"]))
                    with self._lock:
                        self.records += 1
                        self.latest[pid] = got
                        if pid in self._open and (self._targets is None or self._targets.get(pid) == got):
                            self._open.discard(pid)
                            self.done_at = now
                            if not self._open:
                                self._done.set()
                    if self.on_record is not None:
                        self.on_record(pid, rec, now, msg.timestamp()[1])
        except Exception as exc:  # noqa: BLE001 - reported by the part that waits
            self.error = f"{type(exc).__name__}: {exc}"
            self._done.set()
        finally:
            self._c.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

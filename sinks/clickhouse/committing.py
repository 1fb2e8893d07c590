"""Write with retry, then commit: what happens to a batch after the loop hands it over.

A mixin of :class:`sinks.clickhouse.sink.ClickHouseSink`. One batch is in flight at most:
the writer thread inserts it (:mod:`sinks.clickhouse.writing`) while the loop reads the
next. Settling it waits for that insert; a failed insert is retried here, in the loop's
thread, with partitions paused and bounded backoff, and only a batch whose every table is
in has its offsets committed. The sink is in one :class:`Phase` at a time: consuming, or
retrying a batch; a rebalance during a retry moves it to abandoned, and the retry then
gives the batch up uncommitted (Kafka delivers it again to whoever owns the partitions).
"""

from __future__ import annotations

import enum
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from confluent_kafka import Consumer, Message, TopicPartition

from bus.log import get_logger
from bus.settings import Settings
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.metrics import SinkMetrics
from sinks.clickhouse.positions import Positions

__all__ = ["Committing", "InFlight", "Phase", "backoff_delay"]

log = get_logger("sinks.clickhouse")


class Phase(enum.Enum):
    """Where the loop is with the batch in flight.

    ``CONSUMING``: reading; a batch may be in the writer thread. ``RETRYING``: a failed
    batch is being written again in the loop's thread (partitions paused). ``ABANDONED``:
    partitions were revoked or lost during that retry; it stops and commits nothing.
    """

    CONSUMING = "consuming"
    RETRYING = "retrying"
    ABANDONED = "abandoned"


def backoff_delay(attempt: int, cap: float, base: float = 0.5) -> float:
    """Bounded exponential backoff with jitter: ``base * 2**(attempt-1)``, at most ``cap``."""
    return min(cap, base * 2 ** max(0, attempt - 1)) * random.uniform(0.8, 1.0)


@dataclass
class InFlight:
    """A batch handed to the writer thread: its future and the tables already written."""

    batch: Batch
    started: float
    written: set[str]
    future: Future[None]


class Committing:
    """``_flush``, ``_settle``, ``_retry``, ``_drain`` and ``_wait`` of the sink."""

    settings: Settings
    metrics: SinkMetrics
    before_commit: Callable[[Batch], None] | None
    _batch: Batch
    _inflight: InFlight | None
    _phase: Phase
    _stopping: threading.Event
    _consumer: Consumer | None
    _positions: Positions | None

    def _pos(self) -> Positions:
        raise NotImplementedError

    def _writer(self) -> ThreadPoolExecutor:
        raise NotImplementedError

    def _insert(self, batch: Batch, written: set[str]) -> None:
        raise NotImplementedError

    def write(self, batch: Batch, written: set[str] | None = None) -> None:
        raise NotImplementedError

    def _flush(self, *, final: bool = False, in_revoke: bool = False) -> bool:
        """Settle the batch in flight (wait for its inserts, commit it), then hand the open
        batch to the writer; when ``final`` or ``in_revoke`` wait for that one too.

        False if a batch had to be abandoned (stop or rebalance while ClickHouse was
        down): then neither it nor anything read after it is committed, the open batch is
        dropped, and Kafka re-delivers those records.
        """
        if not self._settle(final=final, in_revoke=in_revoke):
            return False
        batch = self._batch
        if batch.is_empty():
            return True
        self._batch = Batch()
        started, written = time.perf_counter(), set[str]()
        self._inflight = InFlight(batch, started, written,
                                   self._writer().submit(self._insert, batch, written))
        if final or in_revoke:
            return self._settle(final=final, in_revoke=in_revoke)
        return True

    def _settle(self, *, final: bool = False, in_revoke: bool = False) -> bool:
        """Wait for the batch in flight, retry it while ClickHouse is down, commit it.

        True when there was none or it is committed. False when it was abandoned: then
        the open batch, read after it, is dropped too (committing it would skip the
        abandoned records).
        """
        job = self._inflight
        if job is None:
            return True
        self._inflight = None
        try:
            job.future.result()
        except Exception as exc:
            if not self._retry(job, exc, final=final, in_revoke=in_revoke):
                self._batch = Batch()
                return False
        if self.before_commit is not None:
            self.before_commit(job.batch)
        self._pos().commit(job.batch)
        self.metrics.batch_rows.observe(job.batch.row_count())
        self.metrics.flush_seconds.observe(time.perf_counter() - job.started)
        return True

    def _retry(self, job: InFlight, error: Exception, *, final: bool, in_revoke: bool) -> bool:
        """Write ``job``'s batch again, here in the loop's thread, with bounded backoff and
        partitions paused, until it is in; False when a stop or rebalance abandons it.
        """
        batch, attempt = job.batch, 0
        paused: list[TopicPartition] = []
        self._phase = Phase.RETRYING
        try:
            while True:
                attempt += 1
                ending = final or in_revoke or self._stopping.is_set()
                if self._phase is Phase.ABANDONED or (ending and attempt >= 3):
                    log.warning("batch abandoned uncommitted; Kafka will deliver it again",
                                extra={"records": len(batch), "open": len(self._batch),
                                       "error": str(error)[:300]})
                    return False
                delay = backoff_delay(attempt, self.settings.sink.backoff_max_s)
                log.warning("write failed; retrying", exc_info=attempt == 1,
                            extra={"attempt": attempt, "wait_s": round(delay, 2),
                                   "records": len(batch), "error": str(error)[:300]})
                if not paused and not in_revoke:
                    paused = self._pos().pause()
                self._wait(min(delay, 1.0) if ending else delay, keep_polling=not in_revoke)
                if self._phase is Phase.ABANDONED:
                    continue
                try:
                    self.write(batch, job.written)
                    return True
                except Exception as exc:
                    error = exc
        finally:
            abandoned, self._phase = self._phase is Phase.ABANDONED, Phase.CONSUMING
            if paused and not abandoned and self._positions is not None:
                self._positions.resume(paused)

    def _drain(self) -> None:
        """Wait for the batch in flight and forget it uncommitted, with the open batch read
        after it (partitions lost, or closing after an error): the insert is harmless, the
        offsets are not ours to store, and Kafka delivers both batches again.
        """
        job, self._inflight = self._inflight, None
        if job is None:
            return
        try:
            job.future.result()
        except Exception as exc:
            log.warning("batch in flight failed", extra={"records": len(job.batch),
                                                         "error": str(exc)[:300]})
        log.warning("batch in flight and open batch dropped uncommitted; Kafka will deliver "
                    "them again", extra={"records": len(job.batch), "open": len(self._batch)})
        self._batch = Batch()

    def _wait(self, seconds: float, keep_polling: bool) -> bool:
        """Wait while partitions are paused, polling so the group keeps us; False when
        stopped or revoked meanwhile. Any record polled is rewound so it comes again.
        """
        self.metrics.backoff_seconds.inc(seconds)
        deadline = time.monotonic() + seconds
        stray: list[Message] = []
        while (left := deadline - time.monotonic()) > 0:
            if self._stopping.is_set() or self._phase is Phase.ABANDONED:
                break
            if keep_polling and self._consumer is not None:
                msg = self._consumer.poll(min(0.5, left))
                if msg is not None and msg.error() is None:
                    stray.append(msg)
            else:
                self._stopping.wait(min(0.5, left))
        if stray and self._phase is not Phase.ABANDONED and self._positions is not None:
            self._positions.rewind(stray)
        return not (self._stopping.is_set() or self._phase is Phase.ABANDONED)

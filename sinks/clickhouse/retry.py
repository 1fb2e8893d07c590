"""Writing a failed batch again: bounded exponential backoff, partitions paused, polling
only so the group keeps the sink, until the batch is in or a stop or rebalance gives
it up (then neither it nor anything read after it is committed).
"""

from __future__ import annotations

import random
import time

from confluent_kafka import Message, TopicPartition

from bus.log import get_logger
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.metrics import SinkMetrics
from sinks.clickhouse.positions import Positions
from sinks.clickhouse.state import LoopState
from sinks.clickhouse.write import BatchWriter

__all__ = ["Retry", "backoff_delay"]

log = get_logger("sinks.clickhouse")


def backoff_delay(attempt: int, cap: float, base: float = 0.5) -> float:
    """Bounded exponential backoff with jitter: ``base * 2**(attempt-1)``, at most ``cap``."""
    return min(cap, base * 2 ** max(0, attempt - 1)) * random.uniform(0.8, 1.0)


class Retry:
    """Writes a batch again, in the loop's thread, until it is in.

    Args:
        state: the loop's state: the retry is its ``RETRYING`` phase.
        writer: one attempt at writing a batch.
        positions: pause, resume and rewind the sink's partitions.
        metrics: time spent waiting.
        backoff_max_s: longest wait between attempts.

    """

    def __init__(self, state: LoopState, writer: BatchWriter, positions: Positions,
                 metrics: SinkMetrics, backoff_max_s: float) -> None:
        self.state = state
        self.writer = writer
        self.positions = positions
        self.metrics = metrics
        self.backoff_max_s = backoff_max_s

    def __call__(self, batch: Batch, written: set[str], error: Exception, *, final: bool,
                 in_revoke: bool, open_records: int) -> bool:
        """Write ``batch`` (its tables not in ``written``) again after ``error``; False
        when a stop or rebalance abandons it. While ending (``final``, in a revoke, or
        stopping) it gives up after the third attempt.
        """
        attempt = 0
        paused: list[TopicPartition] = []
        state = self.state
        state.begin_retry()
        try:
            while True:
                attempt += 1
                ending = final or in_revoke or state.stopping
                if state.abandoned or (ending and attempt >= 3):
                    log.warning("batch abandoned uncommitted; Kafka will deliver it again",
                                extra={"records": len(batch), "open": open_records,
                                       "error": str(error)[:300]})
                    return False
                delay = backoff_delay(attempt, self.backoff_max_s)
                log.warning("write failed; retrying", exc_info=attempt == 1,
                            extra={"attempt": attempt, "wait_s": round(delay, 2),
                                   "records": len(batch), "error": str(error)[:300]})
                if not paused and not in_revoke:
                    paused = self.positions.pause()
                self._wait(min(delay, 1.0) if ending else delay, keep_polling=not in_revoke)
                if state.abandoned:
                    continue
                try:
                    self.writer.write(batch, written)
                    return True
                except Exception as exc:
                    error = exc
        finally:
            abandoned = state.abandoned
            state.end_retry()
            if paused and not abandoned:
                self.positions.resume(paused)

    def _wait(self, seconds: float, keep_polling: bool) -> None:
        """Wait while partitions are paused, polling so the group keeps us, until
        ``seconds`` passed or the sink is stopped or the batch abandoned. Any record
        polled is rewound so it comes again.
        """
        self.metrics.backoff_seconds.inc(seconds)
        deadline = time.monotonic() + seconds
        stray: list[Message] = []
        state = self.state
        while (left := deadline - time.monotonic()) > 0:
            if state.stopping or state.abandoned:
                break
            if keep_polling:
                msg = self.positions.consumer.poll(min(0.5, left))
                if msg is not None and msg.error() is None:
                    stray.append(msg)
            else:
                state.sleep(min(0.5, left))
        if stray and not state.abandoned:
            self.positions.rewind(stray)

"""The sink loop's one explicit state, and the stop request that ends it.

A rebalance callback runs inside whatever the loop was doing when it polled; what it
must do depends on that: while the loop reads, a revoke settles the batch in flight
and flushes the open one; while the loop writes a failed batch again (partitions
paused, polling only to stay in the group), a revoke abandons that batch instead
(its offsets are no longer ours), and the retry gives up. :class:`Phase` names these
situations; :class:`LoopState` holds the one in force and the stop request, which a
signal handler may set at any time.
"""

from __future__ import annotations

import threading
from enum import Enum

__all__ = ["LoopState", "Phase"]


class Phase(Enum):
    """Where the loop is."""

    READING = "reading"  #: consuming into the open batch; one batch at most in flight
    RETRYING = "retrying"  #: writing a failed batch again in the loop's thread
    ABANDONED = "abandoned"  #: partitions taken while retrying: the batch stays uncommitted


class LoopState:
    """The loop's :class:`Phase` and the stop request, with the transitions allowed."""

    def __init__(self) -> None:
        self.phase = Phase.READING
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the loop to finish (safe from a signal handler): only signals."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` or until stopped; True when stopped."""
        return self._stop.wait(seconds)

    @property
    def abandoned(self) -> bool:
        return self.phase is Phase.ABANDONED

    def begin_retry(self) -> None:
        self.phase = Phase.RETRYING

    def end_retry(self) -> None:
        self.phase = Phase.READING

    def partitions_taken(self) -> bool:
        """Partitions were revoked or lost. True when the caller settles and flushes now;
        False while retrying: the batch being retried is abandoned instead.
        """
        if self.phase is Phase.READING:
            return True
        self.phase = Phase.ABANDONED
        return False

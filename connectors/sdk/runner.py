"""Runs a polling source: read a page after the saved position, publish it, save the
position after the page, repeat. Errors back off; a page is never skipped.

Lifecycle: ``run()`` blocks until ``stop()`` (SIGTERM/SIGINT set it); ``stop()`` only
signals; the page in flight is published and its position saved before ``run`` returns.
"""

from __future__ import annotations

import random
import signal
import threading
from datetime import UTC, datetime
from typing import Any, Protocol

from bus.errors import RetriableError
from bus.log import get_logger
from connectors.sdk.errors import Retry
from connectors.sdk.positions import PositionStore
from connectors.sdk.publisher import Publisher
from connectors.sdk.records import PollResult, SourceRecord

__all__ = ["PollingSource", "SourceRunner"]

log = get_logger(__name__)


class PollingSource(Protocol):
    """What a polling connector implements; the runner does the rest."""

    #: e.g. ``ticketmatic:acme`` — the key its position is saved under.
    source_partition: str

    def poll(self, position: dict[str, Any] | None) -> PollResult:
        """The items after ``position`` and the position after them.

        Raises:
            Retry: nothing to do now / the source failed; call again after ``retry_after``.

        """
        ...


class SourceRunner:
    def __init__(self, source: PollingSource, publisher: Publisher, positions: PositionStore,
                 *, poll_interval_s: float = 5.0, backoff_max_s: float = 60.0) -> None:
        self.source = source
        self.publisher = publisher
        self.positions = positions
        self.poll_interval_s = poll_interval_s
        self.backoff_max_s = backoff_max_s
        self._stop = threading.Event()
        self.pages = 0
        self.published = 0

    def stop(self) -> None:
        self._stop.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop())

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    def step(self) -> PollResult:
        """One page: poll, publish (wait for acks), save the position. Raises on failure."""
        part = self.source.source_partition
        position = self.positions.get(part)
        result = self.source.poll(position)
        m = self.publisher.metrics
        m.records_in.labels(self.publisher.connector).inc(len(result.items))
        self.publisher.publish(result.items)
        self.positions.save(part, result.position)
        self.pages += 1
        self.published += sum(isinstance(i, SourceRecord) for i in result.items)
        if result.source_time is not None:
            lag = (datetime.now(UTC) - result.source_time).total_seconds()
            m.lag.labels(self.publisher.connector).set(max(lag, 0.0))
        return result

    def run(self, *, until_caught_up: bool = False) -> None:
        """Poll until stopped (or, with ``until_caught_up``, until the source has no more)."""
        failures = 0
        while not self._stop.is_set():
            try:
                result = self.step()
                failures = 0
            except Retry as r:
                self._sleep(r.retry_after)
                continue
            except RetriableError as exc:
                failures += 1
                delay = min(self.backoff_max_s, 0.5 * 2 ** min(failures, 10))
                delay *= 0.5 + random.random() / 2  # noqa: S311 - jitter, not crypto
                log.warning("poll failed; backing off", extra={
                    "source": self.source.source_partition, "error": str(exc)[:300],
                    "retry_in_s": round(delay, 2), "failures": failures})
                self._sleep(delay)
                continue
            if not result.more:
                if until_caught_up:
                    return
                self._sleep(self.poll_interval_s)
        log.info("runner stopped", extra={"source": self.source.source_partition,
                                          "pages": self.pages, "published": self.published})

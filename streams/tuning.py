"""Faust, tuned for a worker that takes its topics in batches. Each change was measured
with py-spy on a 2-core machine (see the perf notes in ``streams.facts``); nothing here
changes what the worker computes or guarantees. The private Faust and aiokafka attributes
the first two need are used through ``streams.faust_hooks``.

- Fetches that wait a little for data. Faust creates its aiokafka consumer with
  ``fetch_min_bytes=1`` and a fixed ``fetch_max_wait_ms=1500``: the broker answers a
  fetch as soon as one byte is there, so at a steady few hundred facts a second the
  consumer thread ran a fetch round trip (and a hand-over to the event loop) for every
  few records, a quarter of the worker's CPU at 200 facts/s. Here the broker gathers up
  to ``FETCH_MIN_BYTES`` for at most ``FETCH_MAX_WAIT_MS``: at most ~200 fetches a
  second when facts trickle in (an idle worker uses ~0.1 core for them and its batch
  timers), few large ones when a backlog fills a fetch at once, and at most that wait
  added to a fact's latency per hop.
- A changelog buffer larger than a batch: Faust holds every stream back once 100 table
  writes wait for the producer (and logs a warning), which is less than one batch writes.
- No per-event statistics: Faust's Monitor counts every message and event for its own
  web pages (2-3% of the CPU); the worker's metrics are its Prometheus ones.
"""

from __future__ import annotations

from typing import Any

from faust.sensors.monitor import Monitor

from streams import faust_hooks
from streams.context import ROCKSDB_SHARED_CACHE, ROCKSDB_SHARED_WRITE_BUFFERS

__all__ = ["CHANGELOG_BUFFER", "FETCH_MAX_WAIT_MS", "FETCH_MIN_BYTES", "QuietMonitor", "tune"]

FETCH_MAX_WAIT_MS = 5
FETCH_MIN_BYTES = 256 * 1024
CHANGELOG_BUFFER = 20_000


class QuietMonitor(Monitor):
    """Faust's Monitor without the per-message and per-event bookkeeping."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> dict[str, Any] | None:
        return None

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any,
                            state: dict[str, Any] | None = None) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_table_get(self, table: Any, key: Any) -> None:
        return None

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        return None

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int,
                          valsize: int) -> Any:
        return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        return None


def tune(app: Any) -> None:
    """Apply the tuning to ``app`` (before it starts)."""
    app.transport.Consumer = faust_hooks.fetching_consumer(min_bytes=FETCH_MIN_BYTES,
                                                           max_wait_ms=FETCH_MAX_WAIT_MS)
    app.transport.Producer = faust_hooks.tracking_producer()
    faust_hooks.set_changelog_buffer(CHANGELOG_BUFFER)
    faust_hooks.share_rocksdb_memory(ROCKSDB_SHARED_CACHE, ROCKSDB_SHARED_WRITE_BUFFERS)

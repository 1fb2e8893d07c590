"""The loader: the gateway's view filled from the compacted topics by the bus's reader.

It reads ``participation.availability`` and ``participation.lastminute`` with
:class:`bus.compacted.CompactedReader` (every partition from the beginning, no group,
nothing committed: the view is rebuilt from the log on every start) and is ready once
each partition reached its end. A record that cannot be decoded or applied (no key, a
key that is not its ``performance_id``, a value the view cannot render) goes to
``<topic>.dlq`` with the original bytes; the view serves every other performance.
Several gateway replicas or restarts may each dead-letter the same record (at least
once): ``errors.offset`` tells copies apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from prometheus_client import Counter

from bus.compacted import CompactedReader, Handler, Record
from bus.errors import BusError
from bus.log import get_logger
from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, LASTMINUTE, topic_name
from sinks.gateway.metrics import GatewayMetrics
from sinks.gateway.view import Change, Outcome, View

__all__ = ["ViewLoader"]

log = get_logger(__name__)

_LAG_EVERY_S = 2.0

Apply = Callable[[str, Any, int | None], tuple[Outcome, Change | None]]


class _BadRecord(BusError):
    """A record that decoded but cannot be applied (no key, key and id disagree)."""


class ViewLoader:
    """Reads the compacted topics into a :class:`View` and hands each batch of changes on.

    Lifecycle: ``start()`` starts the reader's thread (it sets up its consumer and
    retries with backoff until ``stop()``); ``stop()`` only signals; ``close()`` joins the
    thread, flushes the DLQ producer (bounded) and closes the consumer.

    Args:
        settings: bus settings (kafka, registry, topic prefix).
        view: the view to fill.
        metrics: the gateway's metrics.
        on_changes: called in the loader thread with every batch of changes.
        registry: a registry client to share (default: one from ``settings.registry``).

    """

    def __init__(self, settings: Settings, view: View, metrics: GatewayMetrics,
                 on_changes: Callable[[list[Change]], None] | None = None,
                 registry: Registry | None = None) -> None:
        self.settings = settings
        self.view = view
        self.metrics = metrics
        self.on_changes = on_changes
        registry = registry or Registry(settings.registry)
        prefix = settings.topic_prefix
        av, lm = topic_name(AVAILABILITY, prefix), topic_name(LASTMINUTE, prefix)
        self.topics = {av: AVAILABILITY, lm: LASTMINUTE}
        handlers = {
            av: Handler(AVAILABILITY, AvroDeserializer(registry, "availability.avsc"),
                        self._applier(AVAILABILITY, view.apply_availability)),
            lm: Handler(LASTMINUTE, AvroDeserializer(registry, "lastminute_offer.avsc"),
                        self._applier(LASTMINUTE, view.apply_lastminute)),
        }
        self.reader = CompactedReader(settings.kafka, handlers, source="gateway",
                                      count=self._count, on_batch=self._on_batch,
                                      on_ready=self._on_ready)
        self.ready = self.reader.ready
        self._changes: list[Change] = []
        self._counters: dict[tuple[str, str], Counter] = {}
        self._last_lag = 0.0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> ViewLoader:
        self.reader.start()
        return self

    def stop(self) -> None:
        self.reader.stop()

    def close(self, timeout: float = 10.0) -> None:
        self.reader.close(timeout)

    @property
    def alive(self) -> bool:
        return self.reader.alive

    @property
    def healthy(self) -> bool:
        """The loader runs and reads (red while it retries a failed consumer or registry)."""
        return self.reader.healthy

    @property
    def error(self) -> str | None:
        return self.reader.error

    # -- records ------------------------------------------------------------------------

    def _count(self, topic: str, outcome: str) -> None:
        # labels() per record was ~4 us of the ~60 a record costs: each child once
        child = self._counters.get((topic, outcome))
        if child is None:
            child = self._counters[(topic, outcome)] = self.metrics.records.labels(topic, outcome)
        child.inc()

    def _applier(self, label: str, apply: Apply) -> Callable[[Record], str]:
        def applier(rec: Record) -> str:
            if rec.key is None:
                raise _BadRecord("record has no key; the key must be the canonical performance id")
            pid = rec.key.decode("utf-8", errors="replace")
            value = rec.value
            if value is not None and value.get("performance_id") != pid:
                raise _BadRecord(f"key {pid!r} differs from performance_id "
                                 f"{value.get('performance_id')!r}; the key must be the canonical id")
            outcome, change = apply(pid, value, rec.timestamp_ms)
            if change is not None:
                self._changes.append(change)
            elif outcome is Outcome.STALE:
                log.info("stale copy ignored", extra={"performance_id": pid, "topic": label})
            return outcome.value
        return applier

    def _on_batch(self) -> None:
        if self._changes:
            changes, self._changes = self._changes, []
            if self.on_changes is not None:
                self.on_changes(changes)
        now = time.monotonic()
        if now - self._last_lag >= _LAG_EVERY_S:
            self._last_lag = now
            self._observe()

    def _on_ready(self) -> None:
        self._observe()
        self.metrics.ready.set(1)
        log.info("gateway view ready", extra=self.view.sizes())

    def _observe(self) -> None:
        for name, size in self.view.sizes().items():
            self.metrics.view_size.labels(name).set(size)
        consumer = self.reader.consumer
        if consumer is None:
            return
        try:
            positions = consumer.position(consumer.assignment())
        except Exception:  # metrics only: never stop the loader for them
            return
        for tp in positions:
            try:
                low, high = consumer.get_watermark_offsets(tp, timeout=1.0, cached=True)
            except Exception:  # noqa: S112  (a partition without a fetch yet)
                continue
            pos = tp.offset if tp.offset >= 0 else low
            self.metrics.consumer_lag.labels(self.topics.get(tp.topic, tp.topic),
                                             str(tp.partition)).set(max(high - pos, 0))

"""Feeding a dataset to whatever computes availability (our streams workers or a peer) and
timing it from the outside, the same way for every contender.

First the calendar: one performance fact each, waited for until every performance has
an availability record. Then the ticket events, sent as fast as the producer goes; the
run is timed from the first ticket event sent to the moment the availability record
that brings the last performance to its final numbers is read (``bench.watch``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.data import Dataset
from bench.kafkaio import bulk_producer, produce_all, schema_id
from bench.watch import AvailabilityWatch
from bus.serde import Registry
from bus.settings import KafkaSettings, Settings
from bus.topics import AVAILABILITY, PERFORMANCES, TICKET_EVENTS, topic_name

__all__ = ["Feed", "Watched", "wait_budget"]


def wait_budget(records: int, cap: float, floor_eps: float = 150.0) -> float:
    """How long to wait for ``records`` at no less than ``floor_eps``, at most ``cap``."""
    return min(cap, max(20.0, records / floor_eps + 15.0))


class Watched(Protocol):
    """A process the feed watches while it waits (raises when it died)."""

    def check(self) -> None: ...

    def cpu_seconds(self) -> float: ...


def _wait(watch: AvailabilityWatch, budget: float, roles: tuple[Watched, ...]) -> bool:
    deadline = time.monotonic() + budget
    while time.monotonic() < deadline:
        if watch.wait(0.2):
            if watch.error:
                raise RuntimeError(f"reading availability: {watch.error}")
            return True
        for r in roles:
            r.check()
    return False


@dataclass
class Feed:
    """One dataset into one topic prefix, watched on ``output`` (default: availability).

    Attributes:
        settings: the prefix's settings.
        ds: the dataset.
        registry: registers the fact schemas under the prefix, reads output schemas.
        output: the topic availability records appear on (unprefixed name).
        cap_s: no wait takes longer than this.
        ticket_topic: where the ticket events go (full name; default the shared ticket
            topic of the prefix), e.g. a vendor tenant's ingest topic.
        ticket_kafka: the login they are sent with (default the settings'), e.g. the tenant's.

    """

    settings: Settings
    ds: Dataset
    registry: Registry
    output: str = AVAILABILITY
    cap_s: float = 180.0
    ticket_topic: str | None = None
    ticket_kafka: KafkaSettings | None = None
    watch: AvailabilityWatch = field(init=False)

    def __post_init__(self) -> None:
        p = self.settings.topic_prefix
        self._perf_values = self.ds.wire(schema_id(self.registry, p + PERFORMANCES, "performance.avsc"),
                                         self.ds.perf_bodies)
        self._ticket_topic = self.ticket_topic or topic_name(TICKET_EVENTS, p)
        self._event_id = schema_id(self.registry, self._ticket_topic, "ticket_event.avsc")
        self._producer = bulk_producer(self.settings)
        self._ticket_producer = self._producer if self.ticket_kafka is None else bulk_producer(
            self.settings.model_copy(update={"kafka": self.ticket_kafka}))
        self.watch = AvailabilityWatch(self.settings, p + self.output, self.registry).start()

    def calendar(self, roles: tuple[Watched, ...] = ()) -> dict[str, Any]:
        """Publish every performance and wait until each has its availability."""
        n = len(self.ds.performances)
        self.watch.expect(None, present=list(self.ds.targets))
        t0 = produce_all(self._producer, topic_name(PERFORMANCES, self.settings.topic_prefix),
                         self.ds.perf_keys(), self._perf_values)
        done = _wait(self.watch, wait_budget(n, self.cap_s, 60.0), roles)
        seconds = max(self.watch.done_at - t0, 1e-3) if done else time.time() - t0
        got = n - self.watch.remaining
        return {"performances": n, "with_availability": got, "seconds": round(seconds, 2),
                "pps": got / seconds, "complete": done}

    def tickets(self, roles: tuple[Watched, ...] = (), on_sent: Any = None,
                ds: Dataset | None = None) -> dict[str, Any]:
        """Publish every ticket event (of ``ds``, a later part of the dataset, if given);
        time first sent -> last performance final, and the CPU seconds ``roles`` used meanwhile
        (``eps_per_cpu_s``: the figure that holds on a busy machine).

        ``on_sent`` (no arguments) runs once every event is on the broker, e.g. to start
        a profiler while the backlog is processed.
        """
        ds = ds or self.ds
        n = len(ds.events)
        before = self.watch.records
        self.watch.expect(ds.targets)
        open_before = self.watch.remaining
        cpu0 = sum(r.cpu_seconds() for r in roles)
        t0 = produce_all(self._ticket_producer, self._ticket_topic, ds.event_keys(),
                         ds.wire(self._event_id, ds.event_bodies))
        sent_s = time.time() - t0
        if on_sent is not None:
            on_sent()
        done = _wait(self.watch, wait_budget(n, self.cap_s), roles)
        if done:
            seconds, processed = max(self.watch.done_at - t0, 1e-3), n
        else:  # cut short: count the events of the performances that got there
            seconds = time.time() - t0
            processed = int(n * (1 - self.watch.remaining / max(open_before, 1)))
        cpu = sum(r.cpu_seconds() for r in roles) - cpu0
        return {"events": n, "availability_records": self.watch.records - before,
                "availability_changing_events": ds.changing_events,
                "processed_events": processed, "seconds": round(seconds, 2), "send_seconds": round(sent_s, 2),
                "eps": processed / seconds, "complete": done, "started_at": t0,
                "cpu_seconds": round(cpu, 2), "eps_per_cpu_s": processed / cpu if cpu > 0 else None}

    def backlog(self) -> float:
        """Publish every ticket event, then every performance, without waiting: the backlog
        of a worker started afterwards, the calendar arriving after the tickets (their facts
        wait parked until it does). Returns when the first was sent; ``caught_up`` waits."""
        self.watch.expect(self.ds.targets)
        t0 = produce_all(self._ticket_producer, self._ticket_topic, self.ds.event_keys(),
                         self.ds.wire(self._event_id, self.ds.event_bodies))
        produce_all(self._producer, topic_name(PERFORMANCES, self.settings.topic_prefix),
                    self.ds.perf_keys(), self._perf_values)
        return t0

    def caught_up(self, roles: tuple[Watched, ...] = ()) -> dict[str, Any]:
        """Wait until every performance of a ``backlog`` has its final numbers; how long
        that took from now (start ``roles`` first) and whether it got there."""
        t0 = time.time()
        n = len(self.ds.events) + len(self.ds.performances)
        done = _wait(self.watch, wait_budget(n, self.cap_s, 60.0), roles)
        seconds = max(self.watch.done_at - t0, 1e-3) if done else time.time() - t0
        return {"records": n, "seconds": round(seconds, 2), "complete": done,
                "performances_not_final": self.watch.remaining}

    def close(self) -> None:
        self.watch.close()
        self._producer.flush(10)
        if self._ticket_producer is not self._producer:
            self._ticket_producer.flush(10)

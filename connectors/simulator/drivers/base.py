"""What every driver shares: the run environment, delivery units, pacing, progress,
and the two ways facts travel (pushed to a receiver, or polled from a fake vendor).

A driver renders the season's happenings of one source kind in that vendor's shape
(``units``), brings up what it needs (``start``: fake vendor server, the real
connector), delivers every unit and returns only when the connector has every fact
acknowledged by Kafka (``deliver``), then ``close``s.
"""

from __future__ import annotations

import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from bus.errors import BusError, RetriableError
from bus.settings import Settings
from connectors.sdk.context import ConnectorContext
from connectors.sdk.records import SourceRecord
from connectors.sdk.runner import PollingSource, SourceRunner
from connectors.simulator.model import Season, SimPerformance

__all__ = ["ClosingSource", "Driver", "DriverStats", "Env", "Pacer", "SimulationError", "Unit",
           "drain", "feed_and_drain", "grouped", "push_all"]


class ClosingSource(PollingSource, Protocol):
    """A real polling source that holds a client until ``close``."""

    def close(self) -> None: ...


class SimulationError(BusError):
    """A delivery was refused or never acknowledged; the message says which and why."""


class Pacer:
    """Spreads deliveries to ``rate`` facts per second (None: as fast as acknowledged)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._next = time.monotonic()

    def wait(self, facts: int) -> None:
        if not self.rate:
            return
        with self._lock:
            now = time.monotonic()
            at = max(self._next, now)
            self._next = at + facts / self.rate
        delay = at - now
        if delay > 0:
            time.sleep(delay)


@dataclass
class Env:
    """Everything a driver may use, built once per simulation run.

    Attributes:
        settings: the deployment settings (Kafka, registry, topic prefix, connector).
        season: the season being played.
        run_id: unique per run; connector names carry it so positions start fresh.
        pacer: throttles deliveries.
        progress: called with the number of facts each acknowledged delivery yielded.
        workers: concurrent deliveries per push driver (one performance stays on one
            worker, so its deliveries keep their order).
        webhook_url: an external receiver to POST to instead of the in-process one.
        webhook_auth: how deliveries to ``webhook_url`` authenticate: ``vendor`` (as each
            vendor sends them: Eventix's nonce, URL tokens; ``vendor_credentials``) or
            ``hmac`` (signed with ``webhook_secret``, as a relay would).
        timeout_s: bound on every wait for a connector to catch up.

    """

    settings: Settings
    season: Season
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    pacer: Pacer = field(default_factory=lambda: Pacer(None))
    progress: Callable[[int], None] = lambda n: None
    workers: int = 8
    webhook_url: str | None = None
    webhook_secret: str = "cultuurbus-simulator-secret"  # noqa: S105 - shared with the in-process receiver
    webhook_auth: str = "vendor"
    timeout_s: float = 300.0
    shared: dict[str, Any] = field(default_factory=dict)  # hosts several drivers use
    _shared_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def shared_host(self, key: str, make: Callable[[], Any]) -> Any:
        """The run's one host under ``key``, made (and started by ``make``) on first use.
        Drivers run in threads: without the lock two could each start one, and the run's
        close would end only the one kept."""
        with self._shared_lock:
            if key not in self.shared:
                self.shared[key] = make()
            return self.shared[key]

    def connector_name(self, kind: str) -> str:
        return f"simulate-{kind}-{self.run_id}"

    def context(self, kind: str) -> ConnectorContext:
        """An opened connector context (no metrics server) for a connector kind."""
        return ConnectorContext(self.settings, self.connector_name(kind), serve_metrics=False).open()


@dataclass(frozen=True)
class Unit:
    """One delivery: for ``perf`` (canonical id), expected to yield ``facts`` facts."""

    perf: str
    facts: int
    payload: Any


@dataclass
class DriverStats:
    """Counts of one driver; ``seconds`` is the wall time of its ``deliver``."""

    kind: str
    connector: str
    units: int = 0
    facts_expected: int = 0
    facts: int = 0
    refused: int = 0
    seconds: float = 0.0
    phase: str = ""
    started: float = 0.0  # time.monotonic() when deliver began
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, facts: int, refused: int = 0) -> None:
        with self.lock:
            self.facts += facts
            self.refused += refused

    @property
    def rate(self) -> float:
        return self.facts / self.seconds if self.seconds > 0 else 0.0


class Driver(ABC):
    """One source kind. Lifecycle: ``units()`` (pure rendering), ``start()``,
    ``deliver(units)`` (blocks until acknowledged), ``close()``."""

    kind: str = ""  # source kind (model constants)
    connector: str = ""  # connector kind (``cultuurbus connector <kind>``)
    phase: str = "ticketing"  # or "calendar"

    def __init__(self, env: Env) -> None:
        self.env = env
        self.stats = DriverStats(self.kind, self.connector, phase=self.phase)

    @abstractmethod
    def units(self) -> list[Unit]:
        """The season's happenings of this kind, rendered as deliveries."""

    def start(self) -> None:  # noqa: B027 - optional hook
        """Bring up fake servers and the real connector."""

    @abstractmethod
    def deliver(self, units: Sequence[Unit]) -> None:
        """Deliver every unit; return once Kafka acknowledged every fact."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Stop what ``start`` brought up."""


def push_all(env: Env, units: Sequence[Unit], send: Callable[[Unit], int],
             stats: DriverStats) -> None:
    """Send units on ``env.workers`` threads, each performance on one worker in order.

    ``send`` returns the facts the receiver acknowledged; it raises
    ``SimulationError`` for a refused delivery (counted, then re-raised at the end).
    """
    lanes: list[list[Unit]] = [[] for _ in range(max(1, env.workers))]
    lane_of: dict[str, int] = {}
    for u in units:
        lane = lane_of.setdefault(u.perf, len(lane_of) % len(lanes))
        lanes[lane].append(u)
    lock = threading.Lock()
    errors: list[str] = []

    def run(lane: list[Unit]) -> None:
        for u in lane:
            env.pacer.wait(u.facts)
            try:
                n = send(u)
            except SimulationError as exc:
                stats.add(0, refused=1)
                with lock:
                    errors.append(str(exc))
                continue
            stats.add(n)
            env.progress(n)

    with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix=f"sim-{stats.kind}") as pool:
        list(pool.map(run, [lane for lane in lanes if lane]))
    stats.units += len(units)
    if errors:
        raise SimulationError(f"{len(errors)} {stats.kind} deliveries refused; first: {errors[0]}")


def drain(env: Env, ctx: ConnectorContext, source: PollingSource, stats: DriverStats,
          done: Callable[[], bool] = lambda: True, poll_pause_s: float = 0.05) -> None:
    """Run ``source`` through the real ``SourceRunner`` until ``done()`` and caught up.

    Raises:
        SimulationError: the source did not catch up within ``env.timeout_s``.

    """
    runner = SourceRunner(source, ctx.publisher, ctx.positions, poll_interval_s=poll_pause_s,
                          backoff_max_s=2.0)
    deadline = time.monotonic() + env.timeout_s
    last_problem = ""
    while time.monotonic() < deadline:
        finished = done()  # read before polling: nothing fed after this is missed
        try:
            result = runner.step()
        except RetriableError as exc:
            last_problem = str(exc)
            time.sleep(min(getattr(exc, "retry_after", 0.5), 1.0))
            continue
        n = sum(isinstance(i, SourceRecord) for i in result.items)
        stats.add(n, refused=len(result.items) - n)
        env.progress(n)
        if result.more:
            continue
        if finished:
            return
        time.sleep(poll_pause_s)
    raise SimulationError(f"{stats.kind}: the {stats.connector} connector did not catch up within "
                          f"{env.timeout_s:.0f}s" + (f" (last problem: {last_problem})"
                                                     if last_problem else ""))


def grouped(perfs: Sequence[SimPerformance], key: Callable[[SimPerformance], str | None]
            ) -> dict[str, list[SimPerformance]]:
    """``perfs`` by ``key`` (None: left out), keys sorted, each group in the given order."""
    groups: dict[str, list[SimPerformance]] = {}
    for p in perfs:
        k = key(p)
        if k is not None:
            groups.setdefault(k, []).append(p)
    return dict(sorted(groups.items()))


def feed_and_drain(driver: Driver, units: Sequence[Unit], put: Callable[[Any], object],
                   source: Callable[[], ClosingSource], context: str) -> None:
    """Put every unit's payload on a fake vendor API (paced), then run the real polling
    ``source`` in a fresh connector context ``context`` until it caught up (``drain``)."""
    for u in units:
        driver.env.pacer.wait(u.facts)
        put(u.payload)
    driver.stats.units += len(units)
    polled = source()
    ctx = driver.env.context(context)
    try:
        drain(driver.env, ctx, polled, driver.stats)
    finally:
        polled.close()
        ctx.close()

"""Plays a season through the real connector paths.

Phases: calendars first (every DIP, UiTdatabank, schema.org, iCal and vendor calendar
item published), then ticketing (every source kind at once, each on its own thread);
``calendar_last`` swaps them. Within a phase each driver delivers its units and
returns only once Kafka acknowledged every fact, so when ``simulate`` returns the
topics hold the whole season.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bus.log import get_logger
from bus.serde import Registry, subject_for
from bus.settings import Settings
from bus.topics import PERFORMANCES, SNAPSHOTS, TICKET_EVENTS, spec, topic_name
from connectors.simulator.drivers import DRIVERS
from connectors.simulator.drivers.base import Driver, DriverStats, Env, Pacer, SimulationError, Unit
from connectors.simulator.model import Season
from schemas import load_schema

__all__ = ["SimulationReport", "check", "register_schemas", "simulate"]

log = get_logger(__name__)


@dataclass
class SimulationReport:
    """What a run delivered: per source kind, and overall."""

    stats: list[DriverStats]
    seconds: float
    expected: int
    errors: list[str] = field(default_factory=list)

    @property
    def facts(self) -> int:
        return sum(s.facts for s in self.stats)

    def by_connector(self) -> dict[str, tuple[int, float]]:
        """Connector kind -> (facts, facts per second while it was delivering).

        Drivers of one connector kind deliver at once within a phase (e.g. Eventix,
        Eventbrite and Stager all to the webhook receiver), so its time is the span from
        the first start to the last end, summed over phases.
        """
        spans: dict[tuple[str, str], tuple[float, float]] = {}
        facts: dict[str, int] = {}
        for s in self.stats:
            key = (s.connector, s.phase)
            lo, hi = spans.get(key, (s.started, s.started + s.seconds))
            spans[key] = (min(lo, s.started), max(hi, s.started + s.seconds))
            facts[s.connector] = facts.get(s.connector, 0) + s.facts
        secs: dict[str, float] = {}
        for (connector, _), (lo, hi) in spans.items():
            secs[connector] = secs.get(connector, 0.0) + hi - lo
        return {k: (f, f / secs[k] if secs[k] else 0.0) for k, f in facts.items()}


def _run_phase(drivers: Sequence[tuple[Driver, list[Unit]]], errors: list[str]) -> None:
    def one(driver: Driver, units: list[Unit]) -> None:
        try:
            driver.start()
            driver.stats.started = time.monotonic()
            driver.deliver(units)
            driver.stats.seconds = time.monotonic() - driver.stats.started
        except Exception as exc:  # noqa: BLE001 - reported, the other drivers go on
            log.exception("driver failed", extra={"kind": driver.kind})
            errors.append(f"{driver.kind}: {exc}")

    threads = [threading.Thread(target=one, args=(d, u), name=f"sim-{d.kind}", daemon=True)
               for d, u in drivers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def register_schemas(settings: Settings) -> None:
    """Register the fact topics' schemas before connectors race to do it.

    Concurrent first registrations of one new subject can be refused by the registry
    ("already exists"), which would dead-letter good facts; registering once up front
    (as ``cultuurbus schemas register`` does) avoids that.
    """
    registry = Registry(settings.registry)
    for topic in (TICKET_EVENTS, SNAPSHOTS, PERFORMANCES):
        schema = spec(topic).value_schema
        assert schema is not None
        registry.register(subject_for(topic_name(topic, settings.topic_prefix)), load_schema(schema))


def simulate(settings: Settings, season: Season, *, pace: float | None = None,
             calendar_last: bool = False, webhook_url: str | None = None,
             webhook_secret: str | None = None, webhook_auth: str = "vendor", workers: int = 8,
             timeout_s: float = 600.0, kinds: Sequence[str] | None = None,
             progress: Callable[[int], None] | None = None,
             on_total: Callable[[int], None] | None = None) -> SimulationReport:
    """Deliver every fact of ``season`` through the real connectors into Kafka.

    Args:
        settings: Kafka, registry and topic prefix to publish under.
        season: what to play.
        pace: facts per second over all sources (None: as fast as acknowledged).
        calendar_last: send tickets first, calendars after.
        webhook_url: POST webhooks to this receiver instead of an in-process one.
        webhook_secret: the secret webhook credentials derive from (or, hmac, sign with).
        webhook_auth: ``vendor`` (each vendor's own way) or ``hmac`` (a signing relay).
        workers: concurrent deliveries per push source.
        timeout_s: bound on each wait for a connector to catch up.
        kinds: only these source kinds (default: all).
        progress: called with the facts each acknowledged delivery yielded.
        on_total: called once with the number of facts the run will deliver.

    Returns:
        per-kind counts and timings; ``errors`` names refused or failed deliveries.

    """
    register_schemas(settings)
    env = Env(settings, season, pacer=Pacer(pace), progress=progress or (lambda n: None),
              workers=workers, webhook_url=webhook_url, webhook_auth=webhook_auth, timeout_s=timeout_s)
    if webhook_secret:
        env.webhook_secret = webhook_secret
    drivers = [cls(env) for kind, cls in DRIVERS.items() if kinds is None or kind in kinds]
    planned = [(d, d.units()) for d in drivers]
    planned = [(d, u) for d, u in planned if u]
    for d, u in planned:
        d.stats.facts_expected = sum(x.facts for x in u)
    expected = sum(d.stats.facts_expected for d, _ in planned)
    if on_total is not None:
        on_total(expected)
    order = ["ticketing", "calendar"] if calendar_last else ["calendar", "ticketing"]
    errors: list[str] = []
    t0 = time.monotonic()
    try:
        for phase in order:
            _run_phase([(d, u) for d, u in planned if d.phase == phase], errors)
    finally:
        for d, _ in planned:
            try:
                d.close()
            except Exception:  # noqa: BLE001 - closing what is left
                log.exception("driver close failed", extra={"kind": d.kind})
        for host in list(env.shared.values()):
            host.close()
        env.shared.clear()
    report = SimulationReport([d.stats for d, _ in planned], time.monotonic() - t0, expected, errors)
    for s in report.stats:
        if s.facts != s.facts_expected and not errors:
            errors.append(f"{s.kind}: {s.facts} facts acknowledged, {s.facts_expected} expected")
    return report


def check(report: SimulationReport) -> None:
    """Raise if the run did not deliver what the season holds."""
    if report.errors:
        raise SimulationError("; ".join(report.errors))

"""Sizes of a bench run: the full run (``make bench``, about twelve minutes on a quiet
two-core machine) and the smoke run (``--smoke``, tiny sizes, for the test suite)."""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["FULL", "PARTS", "SMOKE", "Sizes", "parse_scale"]

#: Parts in the order they run; ``--only`` picks some.
PARTS = ("ceilings", "connectors", "walls", "streams", "sink", "peers", "scale", "latency", "matching",
         "identity", "security")


@dataclass(frozen=True)
class Sizes:
    """How much each part does.

    Attributes:
        ceiling_events: records for the raw Kafka, fastavro and ClickHouse ceilings.
        perfs: performances of the streams, peer and sink runs.
        events: ticket events of the streams, peer and sink runs.
        webhook_seconds: how long the load generator posts deliveries.
        webhook_concurrency: deliveries in flight at once.
        poller_items: eventstream items the poller reads from the fake Ticketmatic.
        connector_records: about how many facts each other connector kind publishes (DIP,
            CSV, calendars, Eventbrite and Stager deliveries).
        wall_events: records each runtime contender of the walls part reads.
        scale: (performances, ticket events) of each whole-pipeline size; peak RSS of
            every role is read per size.
        rates: offered loads (events/s) of the latency part; 1000 is always measured.
        latency_seconds: how long each offered load lasts.
        latency_warmup_s: the load sent, at the lowest rate, before the first one is
            counted: a broker started minutes ago spends its first ~15 s of steady load
            compiling (measured: ~2x its CPU and ~4x the p99 of the loads after it).
        max_wait_s: no wait for a result takes longer; a run cut short says so.
        profile: py-spy on the streams worker and the sink.
        security_rounds: rounds of the security part's produce runs (with and without
            SASL + ACLs each, taking turns at going first); the median is reported.
        security_streams_rounds: the same for its streams worker runs.
        revocations: tenants the security part revokes while they produce.

    """

    ceiling_events: int = 100_000
    perfs: int = 1_000
    events: int = 30_000
    webhook_seconds: float = 12.0
    webhook_concurrency: int = 32
    poller_items: int = 10_000
    connector_records: int = 3_000
    wall_events: int = 60_000
    scale: tuple[tuple[int, int], ...] = ((1_000, 30_000), (10_000, 30_000), (100_000, 20_000))
    rates: tuple[int, ...] = (500, 1000, 2000)
    latency_seconds: float = 15.0
    latency_warmup_s: float = 20.0
    max_wait_s: float = 180.0
    profile: bool = True
    security_rounds: int = 5
    security_streams_rounds: int = 2
    revocations: int = 3

    def with_rates(self, rates: tuple[int, ...]) -> Sizes:
        return replace(self, rates=tuple(sorted(set(rates) | {1000})))


FULL = Sizes()
SMOKE = Sizes(ceiling_events=3_000, perfs=30, events=400, webhook_seconds=2.0, webhook_concurrency=8,
              poller_items=300, connector_records=60, wall_events=5_000, scale=((60, 300),), rates=(1000,),
              latency_seconds=1.0, latency_warmup_s=1.0, max_wait_s=45.0, profile=True, security_rounds=2,
              security_streams_rounds=1, revocations=1)


def parse_scale(text: str) -> tuple[tuple[int, int], ...]:
    """``1000:30000,10000:30000`` -> ((1000, 30000), (10000, 30000))."""
    out = []
    for part in text.split(","):
        perfs, _, events = part.strip().partition(":")
        out.append((int(perfs), int(events or 0)))
    return tuple(out)

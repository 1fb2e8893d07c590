"""Streams worker throughput: the real ``cultuurbus streams worker``, one and then two
sharing the partitions, fed through the ticketing topics; profiled with py-spy. With
the one worker alone it also measures fact -> availability latency at 1,000 events/s.

One worker gets the calendar and the first half of the ticket events; then a second
worker joins its group (Faust rebalances, the moved partitions' tables are restored
from their changelogs) and the two get the second half, over the same performances.
Last, a worker configured for availability only gets the first half on fresh topics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.data import Dataset
from bench.env import Bench
from bench.feed import Feed
from bench.latency import measure_worker_latency
from bench.options import Sizes
from bench.profile import Profiler
from bench.roles import running
from bus.settings import Settings

__all__ = ["measure_streams", "worker_latency"]


def _done(bench: Bench, workers: int, out: dict[str, Any]) -> None:
    state = "" if out["complete"] else " (cut short: not every availability came out in time)"
    bench.say(f"streams {workers}w: {out['processed_events']:,} ticket events in {out['seconds']:.1f} s = "
              f"{out['eps']:,.0f} events/s{state}")


def measure_streams(bench: Bench, datasets: Callable[[int, int], Dataset], sizes: Sizes
                    ) -> tuple[Settings, dict[str, Any]]:
    """Events/s of one worker and of two; returns the run's settings (its topics are
    full: the sink part reads them) and the results."""
    n = sizes.events
    both = datasets(sizes.perfs, 2 * n)
    first, second = both.part(0, n), both.part(n, 2 * n)
    s = bench.fresh("streams")
    w1, w2 = bench.worker(s, "w1"), bench.worker(s, "w2")
    with running(w1, timeout=120):
        feed = Feed(s, first, bench.registry, cap_s=sizes.max_wait_s)
        try:
            cal = feed.calendar((w1,))
            bench.say(f"streams 1w: calendar {cal['performances']:,} performances at {cal['pps']:,.0f}/s")
            profiler: list[Profiler] = []

            def start_profile() -> None:
                if sizes.profile:
                    seconds = min(20.0, max(2.0, n / 2000))
                    profiler.append(Profiler(w1.pid, seconds, bench.state / "profile-streams.txt").start())

            one = feed.tickets((w1,), on_sent=start_profile)
            one.update(calendar=cal, workers=1, partitions=4, rss_mb=[w1.peak_rss_mb()])
            if profiler:
                one["profile"] = profiler[0].result()
            _done(bench, 1, one)
            with running(w2, timeout=120):
                w1.wait_healthy(60)  # the rebalance is over for both
                two = feed.tickets((w1, w2), ds=second)
                two.update(workers=2, partitions=4, rss_mb=[w1.peak_rss_mb(), w2.peak_rss_mb()])
            _done(bench, 2, two)
        finally:
            feed.close()
    one["latency_at_1000"] = worker_latency(bench, first, sizes)
    return s, {"1w": one, "2w": two, "availability_only": _availability_only(bench, first, sizes)}


def _availability_only(bench: Bench, ds: Dataset, sizes: Sizes, tag: str = "") -> dict[str, Any]:
    """One worker computing availability only (``streams.domains``), on fresh topics (``tag``
    tells runs of one bench apart), given the calendar and the same ticket events as the
    one-worker run: the configuration to hold against the availability-only peers
    (identity still re-keys every fact)."""
    s = bench.fresh(f"streamsav{tag}")
    worker = bench.worker(s, "av", CULTUURBUS_STREAMS__DOMAINS='["availability"]')
    with running(worker, timeout=120):
        feed = Feed(s, ds, bench.registry, cap_s=sizes.max_wait_s)
        try:
            feed.calendar((worker,))
            out = feed.tickets((worker,))
            out["rss_mb"] = [worker.peak_rss_mb()]
        finally:
            feed.close()
    state = "" if out["complete"] else " (cut short)"
    bench.say(f"streams availability only: {out['processed_events']:,} ticket events in "
              f"{out['seconds']:.1f} s = {out['eps']:,.0f} events/s, "
              f"{out['eps_per_cpu_s'] or 0:,.0f} per CPU-s{state}")
    return out


def worker_latency(bench: Bench, ds: Dataset, sizes: Sizes, rate: int = 1000, tag: str = ""
                   ) -> dict[str, Any]:
    """A fresh worker on fresh topics (``tag`` tells runs of one bench apart), alone on the
    machine, given the calendar and then a paced ``rate`` events/s (the throughput topics'
    targets stay untouched); with the worker's CPU-seconds over the paced part."""
    s = bench.fresh(f"streamslat{tag}")
    worker = bench.worker(s, f"lat{tag}")
    with running(worker, timeout=120):
        feed = Feed(s, ds, bench.registry, cap_s=sizes.max_wait_s)
        try:
            feed.calendar((worker,))
        finally:
            feed.close()
        cpu = worker.cpu_seconds()
        out = measure_worker_latency(bench, s, ds, sizes, rate)
        out["worker_cpu_s"] = round(worker.cpu_seconds() - cpu, 2)
        return out

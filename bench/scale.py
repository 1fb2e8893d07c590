"""The whole pipeline at several sizes: a streams worker, the ClickHouse sink and the
gateway running together (as in production), fed the calendar and then the ticket events
of each size. Per size: calendar and ticket events/s, end to end events/s (first ticket
event sent -> last availability read and last row visible in ClickHouse) and the peak
RSS (VmHWM) of every role. The latency part runs on one size's pipeline while it is up."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from bench.data import Dataset, make_dataset
from bench.env import Bench, service_pid
from bench.feed import Feed, wait_budget
from bench.latency import measure_latency
from bench.options import Sizes
from bench.roles import Role, running
from bus.settings import Settings
from sinks.clickhouse.connect import connect_clickhouse

__all__ = ["measure_scale"]


def _rows_visible(s: Settings, want: int, budget: float, roles: tuple[Role, ...]) -> tuple[bool, float, int]:
    """Wait until ClickHouse holds ``want`` ticket rows; (done, newest written_at, rows)."""
    client = connect_clickhouse(s.clickhouse)
    try:
        deadline = time.monotonic() + budget
        count, newest = 0, 0.0
        while time.monotonic() < deadline:
            for r in roles:
                r.check()
            try:
                count, newest_dt = client.query(
                    "SELECT count(), max(written_at) FROM ticket_facts").result_rows[0]
                newest = newest_dt.timestamp() if count else 0.0
            except Exception:  # noqa: BLE001 - the table appears when the sink has migrated
                count = 0
            if count >= want:
                return True, newest, count
            time.sleep(0.2)
        return False, newest, count
    finally:
        client.close()


def _size(bench: Bench, ds: Dataset, sizes: Sizes, latency: bool) -> dict[str, Any]:
    perfs, events = len(ds.performances), len(ds.events)
    s = bench.fresh(f"x{perfs}")
    worker, sink, gateway = bench.worker(s), bench.sink(s), bench.gateway(s)
    out: dict[str, Any] = {"performances": perfs, "events": events}
    with running(worker, sink, gateway, timeout=120) as roles:
        live = tuple(roles)
        feed = Feed(s, ds, bench.registry, cap_s=sizes.max_wait_s)
        try:
            cal = feed.calendar(live)
            bench.say(f"scale {perfs:,} performances: calendar at {cal['pps']:,.0f}/s"
                      + ("" if cal["complete"] else " (cut short)"))
            tix = feed.tickets(live)
        finally:
            feed.close()
        done, newest, rows = _rows_visible(s, events, wait_budget(events, sizes.max_wait_s, 1000.0), live)
        t0 = tix["started_at"]
        av_end = t0 + tix["seconds"]
        e2e_s = max(av_end, newest) - t0
        out.update({
            "calendar_pps": cal["pps"], "calendar_complete": cal["complete"],
            "streams_eps": tix["eps"], "streams_complete": tix["complete"],
            "rows_visible": rows, "e2e_seconds": round(e2e_s, 2),
            "e2e_eps": (events if done and tix["complete"] else min(rows, tix["processed_events"])) / e2e_s,
            "e2e_complete": done and tix["complete"],
        })
        if latency:
            assert gateway.url is not None
            pids = {"streams worker": worker.pid, "sink": sink.pid, "gateway": gateway.pid,
                    "bench (feed, watch, SSE client)": os.getpid()}
            for service in ("kafka", "registry", "clickhouse"):
                if (pid := service_pid(service)) is not None:
                    pids[service] = pid
            out["latency"] = measure_latency(bench, s, ds, gateway.url, sizes,
                                             capacity_eps=out["e2e_eps"] if out["e2e_complete"] else None,
                                             pids=pids)
        out["rss_mb"] = {"streams_worker": worker.peak_rss_mb(), "sink": sink.peak_rss_mb(),
                         "gateway": gateway.peak_rss_mb()}
    rss = out["rss_mb"]
    bench.say(f"scale {perfs:,} performances, {events:,} events: streams {out['streams_eps']:,.0f} events/s, "
              f"end to end {out['e2e_eps']:,.0f} events/s; peak RSS worker {rss['streams_worker']} MB, "
              f"sink {rss['sink']} MB, gateway {rss['gateway']} MB")
    return out


def measure_scale(bench: Bench, sizes: Sizes, datasets: Callable[[int, int], Dataset],
                  latency_at: int | None) -> list[dict[str, Any]]:
    """Every size of ``sizes.scale``; the latency part runs at the size with
    ``latency_at`` performances (or the one closest to it)."""
    out = []
    pick = None
    if latency_at is not None:
        pick = min(sizes.scale, key=lambda pe: abs(pe[0] - latency_at))
    for perfs, events in sizes.scale:
        out.append(_size(bench, datasets(perfs, events), sizes, (perfs, events) == pick))
    return out


def dataset_cache(seed: int = 7) -> Callable[[int, int], Dataset]:
    """``make_dataset`` with memory: a size asked for again, or a size with fewer events
    than one made before (the first events of a dataset never depend on its length), is
    served from what was made."""
    cache: dict[int, Dataset] = {}

    def get(perfs: int, events: int) -> Dataset:
        have = cache.get(perfs)
        if have is None or len(have.events) < events:
            have = cache[perfs] = make_dataset(perfs, events, seed)
        return have if len(have.events) == events else have.part(0, events)

    return get

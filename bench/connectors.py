"""Connector publish rates: the real webhook receiver (``cultuurbus connector webhook``)
under concurrent signed Eventix deliveries from a load generator, and the real
eventstream poller (``cultuurbus connector eventstream``) reading a fake Ticketmatic
account. A webhook fact counts once the receiver answered 200 (Kafka acknowledged it);
the poller is timed by the Kafka timestamps of the first and last fact it published."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import time
import uuid
from typing import Any

import httpx

from bench.data import Dataset
from bench.env import Bench
from bench.kafkaio import Offsets
from bench.options import Sizes
from bench.roles import running
from bus.topics import PERFORMANCES, TICKET_EVENTS
from connectors.testing.ticketmatic import FakeTicketmatic, generate_feed
from connectors.testing.webhooks import PEOPLE, SignedRequest, eventix_delivery, eventix_order

__all__ = ["measure_connectors"]

SECRET = "bench-webhook-secret-" + uuid.uuid4().hex[:8]  # noqa: S105 - a throwaway local key


def _deliveries(ds: Dataset, count: int) -> list[SignedRequest]:
    """Signed ``order.paid`` deliveries (1-2 tickets each) for the dataset's performances."""
    out = []
    perfs = ds.performances
    for i in range(count):
        perf = perfs[i % len(perfs)]
        tickets = [("Regulier", 2750)] if i % 3 else [("Regulier", 2750), ("CJP korting", 2250)]
        order = eventix_order(event_id=f"e-{i % len(perfs):06d}", tickets=tickets, person=PEOPLE[i % 3],
                              dip_id=perf["performance_key"].split("|", 1)[1], event_name=perf["title"])
        out.append(eventix_delivery("acme", SECRET, "order.paid", order))
    return out


async def _load(url: str, requests: list[SignedRequest], seconds: float, concurrency: int) -> dict[str, Any]:
    queue = iter(requests)
    latencies: list[float] = []
    facts = errors = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as http:

        async def worker() -> None:
            nonlocal facts, errors
            for req in queue:
                if time.monotonic() > deadline:
                    return
                t0 = time.perf_counter()
                resp = await http.post(req.path, content=req.body, headers=req.headers)
                latencies.append(time.perf_counter() - t0)
                if resp.status_code == 200:
                    facts += int(resp.json().get("facts") or 0)
                else:
                    errors += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    lat = sorted(latencies) or [0.0]
    return {"deliveries": len(latencies), "facts": facts, "errors": errors, "seconds": round(elapsed, 2),
            "eps": facts / elapsed, "deliveries_per_s": len(latencies) / elapsed, "concurrency": concurrency,
            "latency_ms": {"p50": round(1000 * statistics.median(lat), 1),
                           "p99": round(1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], 1),
                           "max": round(1000 * lat[-1], 1)}}


def _webhook(bench: Bench, ds: Dataset, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("hook")
    requests = _deliveries(ds, int(min(40_000, max(200, sizes.webhook_seconds * 2_500))))
    with running(bench.webhook(s, SECRET), timeout=60) as (hook,):
        assert hook.url is not None
        asyncio.run(_load(hook.url, requests[:20], 5.0, 4))  # warm up: connections, registry, producer
        out = asyncio.run(_load(hook.url, requests[20:], sizes.webhook_seconds, sizes.webhook_concurrency))
        hook.check()
        out["rss_mb"] = hook.peak_rss_mb()
    bench.say(f"connectors: webhook {out['facts']:,} facts ({out['deliveries']:,} deliveries, "
              f"{out['errors']} refused) in {out['seconds']:.1f} s = {out['eps']:,.0f} facts/s, "
              f"p99 answer {out['latency_ms']['p99']} ms")
    return out


def _poller(bench: Bench, sizes: Sizes) -> dict[str, Any]:
    s = bench.fresh("poll")
    fake = FakeTicketmatic(generate_feed(sizes.poller_items, events=20), page_size=100).start()
    log = bench.state / s.topic_prefix.strip(".") / "eventstream.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        with log.open("ab") as out_log:
            proc = subprocess.run(
                [*bench.python_cli, "connector", "eventstream", "--base-url", fake.base_url,
                 "--account", "acme", "--until-caught-up", "--no-metrics"], env=bench.env(s), cwd=bench.repo,
                stdout=out_log, stderr=subprocess.STDOUT, timeout=sizes.max_wait_s)
        if proc.returncode != 0:
            raise RuntimeError(f"eventstream poller failed (code {proc.returncode}); see {log}")
    finally:
        fake.stop()
    facts, first, last = 0, 0.0, 0.0
    for topic in (TICKET_EVENTS, PERFORMANCES):
        off = Offsets(s, s.topic_prefix + topic)
        ends = off.ends()
        if sum(ends.values()):
            facts += sum(ends.values())
            stamps = off.timestamps_at(dict.fromkeys(ends, 0))
            first = min([first or 1e18, *(v / 1000 for v in stamps.values())])
            last = max(last, off.last_timestamp(ends) / 1000)
        off.close()
    seconds = max(last - first, 1e-3)
    out = {"items": sizes.poller_items, "facts": facts, "page_size": 100, "seconds": round(seconds, 2),
           "eps": facts / seconds}
    bench.say(f"connectors: eventstream poller {facts:,} facts in {seconds:.1f} s = "
              f"{out['eps']:,.0f} facts/s")
    return out


def measure_connectors(bench: Bench, ds: Dataset, sizes: Sizes) -> dict[str, Any]:
    """Webhook receiver and eventstream poller publish rates."""
    return {"webhook": _webhook(bench, ds, sizes), "poller": _poller(bench, sizes)}

"""Gateway memory at scale: the peak RSS (VmHWM) of ``cultuurbus gateway`` once its view
holds the availability of N performances (default 100,000), and what holds it.

Two measurements, run on their own (``python -m bench.gateway_memory``, not part of
``python -m bench``):

* ``role`` (the default): a compacted availability topic is filled with one record per
  performance (Avro, as the streams worker writes them: titles, venues, regions, genres,
  production keys), then the real gateway starts and reads it until ``/v1/availability``
  counts every performance; its VmHWM is read then. Uses the bench's own stack, or
  ``--use-env-stack``; ``--set NAME=VALUE`` gives the gateway more settings (A/B). Measured
  (2-core machine): 532 MB before the compact view, 333 MB after; 275 MB once ``ops.cli``
  imported only the gateway's role (the process before any record: ~126 -> ~70 MB); 194-204
  MB (6 runs) with compressed documents and a 2 MB compacted-reader read-ahead; 173-177 MB
  (3 runs) once reading a schema by id no longer imported the registry client.
* ``--in-process``: the same records decoded the way the loader decodes them and applied
  to a :class:`sinks.gateway.view.View` here, with tracemalloc: bytes the view holds
  per performance and the biggest allocation sites. No stack needed.
"""

from __future__ import annotations

import gc
import io
import json
import random
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import fastavro
import httpx

from bench.data import GENRES, TITLES, VENUES, Dataset, _encode
from bench.env import Bench, bench_stack, preflight
from bench.kafkaio import bulk_producer, produce_all, schema_id
from bench.roles import peak_rss_mb, running, wait_for
from bus.topics import AVAILABILITY, topic_name
from schemas import load_schema
from sinks.gateway.view import View

__all__ = ["availability_records", "measure_in_process", "measure_role", "regions_mb", "rss_mb"]


def availability_records(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` Availability records, one per performance, as the streams worker writes them."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    out = []
    for i in range(n):
        _, vname, city, _, _, region, (lo, hi) = VENUES[i % len(VENUES)]
        production = f"NL-25-{1000 + i // 8:05d}-{i % 7 + 1}"
        capacity = rng.randint(lo, hi)
        sold = rng.randint(0, capacity)
        start = now + timedelta(days=rng.randint(3, 180), hours=rng.randint(0, 5))
        out.append({
            "performance_id": f"dip|{production}|{i % 8 + 1}", "capacity": capacity, "sold": sold,
            "reserved": 0, "blocked": 0, "refunded": 0, "remaining": capacity - sold,
            "status": "LIMITED" if capacity - sold < capacity // 10 else "AVAILABLE",
            "uit_booking_availability_type": "Available",
            "schema_org_availability": "https://schema.org/InStock",
            "title": TITLES[(i // 8) % len(TITLES)], "venue_name": vname, "city": city, "region": region,
            "genre": GENRES[i % len(GENRES)], "start": start, "last_fact_time": now, "updated_at": now,
            "version": rng.randint(1, 50), "basis": "computed", "declared_status": None,
            "declared_remaining": None, "declared_source": None, "declared_at": None, "drift": None,
            "production_keys": [f"dip-production|{production}"],
        })
    return out


def _bodies(records: list[dict[str, Any]]) -> list[bytes]:
    return _encode(load_schema("availability.avsc"), records)


def measure_in_process(n: int, top: int = 12) -> dict[str, Any]:
    """Apply ``n`` decoded records to a View under tracemalloc: bytes held, top sites
    (CPU seconds include tracemalloc's own cost)."""
    parsed = fastavro.parse_schema(load_schema("availability.avsc"))
    bodies = _bodies(availability_records(n))
    view = View(10_000, seq_base=0)
    gc.collect()
    tracemalloc.start(1)
    before = tracemalloc.take_snapshot()
    t0 = time.process_time()
    for body in bodies:
        rec: dict[str, Any] = fastavro.schemaless_reader(io.BytesIO(body), parsed, None)  # type: ignore[assignment]
        view.apply_availability(rec["performance_id"], rec, None)
    cpu = time.process_time() - t0
    gc.collect()
    held, peak = tracemalloc.get_traced_memory()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    sites = after.compare_to(before, "lineno")[:top]
    return {"performances": n, "view_mb": round(held / 2**20, 1), "peak_traced_mb": round(peak / 2**20, 1),
            "bytes_per_performance": held // n, "apply_cpu_s": round(cpu, 2),
            "sites": [f"{s.size_diff / 2**20:7.1f} MB {s.count_diff:>9,} blocks  {s.traceback[0]}"
                      for s in sites]}


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of a live process now, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def regions_mb(pid: int) -> dict[str, float]:
    """Resident MiB of a live process by kind of mapping: the main heap, anonymous maps
    (thread arenas, mmapped blocks, Python's arenas) and files (code, shared libraries)."""
    out: dict[str, float] = {"heap": 0.0, "anon": 0.0, "file": 0.0}
    kind = "anon"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split()
        if head and "-" in head[0] and ":" not in head[0]:
            name = head[5] if len(head) > 5 else ""
            kind = "heap" if name == "[heap]" else "file" if name.startswith("/") else "anon"
        elif head and head[0] == "Rss:":
            out[kind] += int(head[1]) / 1024
    return {k: round(v, 1) for k, v in out.items()}


def measure_role(bench: Bench, n: int, settings: dict[str, str] | None = None) -> dict[str, Any]:
    """Peak RSS of the real gateway after loading ``n`` performances' availability
    (``settings``: more ``CULTUURBUS_*`` variables for the gateway)."""
    s = bench.fresh(f"gm{n}")
    topic = topic_name(AVAILABILITY, s.topic_prefix)
    sid = schema_id(bench.registry, topic, "availability.avsc")
    records = availability_records(n)
    values = Dataset.wire(sid, _bodies(records))
    producer = bulk_producer(s)
    produce_all(producer, topic, [r["performance_id"].encode() for r in records], values, timeout=300)
    del records, values
    gateway = bench.gateway(s)
    gateway.env.update(settings or {})
    t0 = time.monotonic()
    with running(gateway, timeout=600) as (role,):
        load_s = time.monotonic() - t0
        assert role.url is not None

        def loaded() -> bool:
            try:
                return httpx.get(f"{role.url}/v1/availability?limit=1", timeout=5).json().get("total", 0) >= n
            except (httpx.HTTPError, ValueError):
                return False

        wait_for(loaded, 120, "gateway view holds every performance", 0.5, (role,))
        idle = peak_rss_mb(role.pid)
        now = rss_mb(role.pid)
        regions = regions_mb(role.pid)
        page = httpx.get(f"{role.url}/v1/availability?limit=1000", timeout=30)
        page.raise_for_status()
        return {"performances": n, "load_seconds": round(load_s, 1), "peak_rss_mb": round(idle, 1),
                "rss_mb_loaded": now, "rss_mb_by_region": regions,
                "peak_rss_mb_after_query": role.peak_rss_mb(),
                "cpu_seconds": round(role.cpu_seconds(), 1)}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--perfs", default=100_000, show_default=True, help="Performances in the view.")
@click.option("--in-process", is_flag=True, help="tracemalloc of a View here instead of the real gateway.")
@click.option("--use-env-stack", is_flag=True, help="Use the stack the CULTUURBUS_* settings name.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="A setting for the gateway, e.g. CULTUURBUS_KAFKA__COMPACTED_READ_AHEAD_KB=65536.")
def main(perfs: int, in_process: bool, use_env_stack: bool, sets: tuple[str, ...]) -> None:
    """Memory of the gateway's view at ``--perfs`` performances."""
    if in_process:
        print(json.dumps(measure_in_process(perfs), indent=2))
        return
    with bench_stack(use_env_stack) as base:
        preflight(base)
        bench = Bench(base, Path(tempfile.mkdtemp(prefix="gateway-memory-")))
        extra = dict(item.split("=", 1) for item in sets)
        print(json.dumps(measure_role(bench, perfs, extra), indent=2))


if __name__ == "__main__":
    main()

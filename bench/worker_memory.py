"""Streams worker memory at scale: the peak RSS (VmHWM) of one ``cultuurbus streams worker``
fed N performances' calendar facts (default 100,000) and a few ticket facts, and where its
resident memory is.

Run on its own (``python -m bench.worker_memory``, not part of ``python -m bench``): a
fresh topic prefix on the bench's own stack (or ``--use-env-stack``), one worker, the
calendar then the ticket events of :func:`bench.data.make_dataset`; the worker's VmHWM
and VmRSS once it has published every availability, its resident memory by kind of
mapping (main heap, anonymous maps, files), and the size of its RocksDB directory.
``--backlog`` measures a worker started on a backlog instead: the ticket events first,
then the calendar, all on the topics before the worker starts (the acceptance tests' "calendar
after the tickets"); its facts wait parked until their performance is described, so give
it many events per performance, e.g. ``--backlog --perfs 1000 --events 200000``.
``--set NAME=VALUE`` passes more settings to the worker (A/B of a setting), ``--code PATH``
runs the worker of another checkout (A/B of two commits);
``--tracemalloc FRAMES`` runs it under tracemalloc (slower) and reports what Python holds at
the end by allocation site (the rest of its RSS is native: RocksDB, librdkafka);
``--census`` reports at the end, at the worker's own speed, glibc's and Python's allocators
and the objects Python holds by type, with the bytes of strings and ints that are copies
of a value another object already holds (``bench.census_hook``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import click

from bench.data import Dataset, make_dataset
from bench.env import Bench, bench_stack, preflight
from bench.feed import Feed
from bench.gateway_memory import regions_mb, rss_mb
from bench.roles import Role, running
from bus.settings import Settings

__all__ = ["measure_worker"]


def _du_mb(path: Path) -> float:
    return round(sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20, 1)


#: Loaded by the traced worker (``sitecustomize``): a snapshot is dumped to ``<file>.snap``
#: when ``<file>`` appears (the worker's own signal handlers take SIGUSR1 and SIGUSR2).
_HOOK = """
import os, threading, time, tracemalloc
def _watch(path=os.environ["BENCH_TRACEMALLOC_TRIGGER"]):
    while not os.path.exists(path):
        time.sleep(0.5)
    tracemalloc.take_snapshot().dump(path + ".snap.tmp")
    os.rename(path + ".snap.tmp", path + ".snap")
threading.Thread(target=_watch, daemon=True, name="bench-tracemalloc").start()
"""


def _traced_env(work: Path, frames: int, code: Path) -> dict[str, str]:
    (work / "sitecustomize.py").write_text(_HOOK)
    return {"PYTHONTRACEMALLOC": str(frames), "PYTHONPATH": f"{work}{os.pathsep}{code}",
            "BENCH_TRACEMALLOC_TRIGGER": str(work / "dump")}


def _census_env(work: Path, code: Path) -> dict[str, str]:
    (work / "sitecustomize.py").write_text(Path(__file__).with_name("census_hook.py").read_text())
    return {"PYTHONPATH": f"{work}{os.pathsep}{code}", "BENCH_CENSUS_TRIGGER": str(work / "census")}


def _ask(trigger: Path, suffix: str) -> Path | None:
    """Touch the worker's trigger file and wait (300 s at most) for its answer file."""
    trigger.touch()
    answer = trigger.with_name(trigger.name + suffix)
    deadline = time.monotonic() + 300
    while not answer.exists():
        if time.monotonic() > deadline:
            return None
        time.sleep(1)
    return answer


def _census(trigger: Path) -> dict[str, Any]:
    answer = _ask(trigger, ".json")
    if answer is None:
        return {"error": "no census within 300 s"}
    result: dict[str, Any] = json.loads(answer.read_text())
    return result


def _report(extra: dict[str, str]) -> dict[str, Any]:
    """What the traced or counted worker reports at the end (nothing when it is neither)."""
    if "BENCH_TRACEMALLOC_TRIGGER" in extra:
        return {"tracemalloc": _snapshot(Path(extra["BENCH_TRACEMALLOC_TRIGGER"]), 25)}
    if "BENCH_CENSUS_TRIGGER" in extra:
        return {"census": _census(Path(extra["BENCH_CENSUS_TRIGGER"]))}
    return {}


def _snapshot(trigger: Path, top: int) -> dict[str, Any]:
    snap = _ask(trigger, ".snap")
    if snap is None:
        return {"error": "no snapshot within 300 s"}
    snapshot = tracemalloc.Snapshot.load(str(snap))
    stats = snapshot.statistics("lineno")
    out: dict[str, Any] = {
        "traced_mb": round(sum(s.size for s in stats) / 2**20, 1),
        "sites": [f"{s.size / 2**20:7.1f} MB {s.count:>9,} blocks  {s.traceback[0]}" for s in stats[:top]]}
    if snapshot.traceback_limit > 1:
        out["stacks"] = [[f"{s.size / 2**20:.1f} MB {s.count:,} blocks", *map(str, s.traceback)]
                         for s in snapshot.statistics("traceback")[:5]]
    return out


def _memory(worker: Role) -> dict[str, Any]:
    return {"peak_rss_mb": worker.peak_rss_mb(), "rss_mb": rss_mb(worker.pid),
            "rss_mb_by_region": regions_mb(worker.pid), "cpu_seconds": round(worker.cpu_seconds(), 1),
            "rocksdb_mb": _du_mb(Path(worker.env["CULTUURBUS_STREAMS__DATA_DIR"]))}


def _on_backlog(bench: Bench, s: Settings, ds: Dataset, worker: Role, cap_s: float,
                extra: dict[str, str]) -> dict[str, Any]:
    """The worker started once the whole backlog is on the topics."""
    feed = Feed(s, ds, bench.registry, cap_s=cap_s)
    try:
        t0 = time.monotonic()
        feed.backlog()
        sent_s = time.monotonic() - t0
        with running(worker, timeout=900 if "BENCH_TRACEMALLOC_TRIGGER" in extra else 180) as roles:
            got = feed.caught_up(tuple(roles))
            out = {"performances": len(ds.performances), "events": len(ds.events), "backlog": True,
                   "send_seconds": round(sent_s, 1), "catch_up_seconds": got["seconds"],
                   "complete": got["complete"], "performances_not_final": got["performances_not_final"],
                   **_memory(worker)}
            return out | _report(extra)
    finally:
        feed.close()


def measure_worker(bench: Bench, perfs: int, events: int, settings: dict[str, str] | None = None,
                   cap_s: float = 900.0, traced: int = 0, backlog: bool = False,
                   census: bool = False) -> dict[str, Any]:
    """Peak RSS of one worker after ``perfs`` calendar facts and ``events`` ticket facts
    (``traced``: frames of tracemalloc, 0: not traced; ``census``: count what it holds at the
    end; ``backlog``: all of them on the topics, the tickets first, before the worker starts)."""
    ds = make_dataset(perfs, events)
    s = bench.fresh(f"wm{perfs}")
    extra = dict(settings or {})
    if traced:
        extra.update(_traced_env(Path(tempfile.mkdtemp(prefix="worker-tracemalloc-")), traced,
                                 bench.code))
    elif census:
        extra.update(_census_env(Path(tempfile.mkdtemp(prefix="worker-census-")), bench.code))
    worker = bench.worker(s, **extra)
    if backlog:
        return _on_backlog(bench, s, ds, worker, cap_s, extra)
    with running(worker, timeout=900 if traced else 180) as roles:
        live = tuple(roles)
        feed = Feed(s, ds, bench.registry, cap_s=cap_s)
        try:
            t0 = time.monotonic()
            cal = feed.calendar(live)
            calendar_s = time.monotonic() - t0
            after_calendar = worker.peak_rss_mb()
            tix = feed.tickets(live)
        finally:
            feed.close()
        out = {"performances": perfs, "events": events, "calendar_pps": round(cal["pps"]),
               "calendar_seconds": round(calendar_s, 1), "calendar_complete": cal["complete"],
               "tickets_complete": tix["complete"], "peak_rss_mb_after_calendar": after_calendar,
               **_memory(worker)}
        return out | _report(extra)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--perfs", default=100_000, show_default=True, help="Performances (calendar facts).")
@click.option("--events", default=2_000, show_default=True, help="Ticket facts after the calendar.")
@click.option("--use-env-stack", is_flag=True, help="Use the stack the CULTUURBUS_* settings name.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="A setting for the worker, e.g. CULTUURBUS_KAFKA__COMPACTED_READ_AHEAD_KB=65536.")
@click.option("--backlog", is_flag=True,
              help="Start the worker once the ticket events, then the calendar, are all on the topics.")
@click.option("--code", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Run the worker from this checkout (a worktree of another commit) instead.")
@click.option("--tracemalloc", "traced", type=click.IntRange(min=0), default=0, metavar="FRAMES",
              help="Report what Python holds, by site (and by stack with more than one frame); "
                   "slower.")
@click.option("--census", is_flag=True,
              help="Report the allocators and the objects the worker holds at the end, by type, "
                   "and how much of its strings and ints are copies (bench.census_hook).")
def main(perfs: int, events: int, use_env_stack: bool, sets: tuple[str, ...], backlog: bool,
         code: Path | None, traced: int, census: bool) -> None:
    """Memory of one streams worker at ``--perfs`` performances."""
    if census and traced:
        raise click.UsageError("--census and --tracemalloc each load their own sitecustomize: use one")
    with bench_stack(use_env_stack) as base:
        preflight(base)
        bench = Bench(base, Path(tempfile.mkdtemp(prefix="worker-memory-")))
        if code is not None:
            bench.code = code.resolve()
        extra = dict(item.split("=", 1) for item in sets)
        print(json.dumps(measure_worker(bench, perfs, events, extra, traced=traced,
                                        backlog=backlog, census=census), indent=2))


if __name__ == "__main__":
    main()

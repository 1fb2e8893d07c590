"""``python -m bench`` (``make bench``): every part in one run on one machine, then the
results JSON and its Markdown table (printed at the end).

A part that fails is recorded with its error and the run goes on; the exit code is 1
when any part failed.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import click

from bench.ceilings import measure_ceilings
from bench.connectors import measure_connectors
from bench.env import STACK_DIR, Bench, bench_stack, preflight
from bench.identity import measure_identity
from bench.matching import measure_matching
from bench.options import FULL, PARTS, SMOKE, Sizes, parse_scale
from bench.peers.runner import measure_peers
from bench.report import fold, git_state, machine_info, markdown, now_iso
from bench.roles import REPO
from bench.scale import dataset_cache, measure_scale
from bench.security import measure_security
from bench.sink import measure_sink
from bench.streams import measure_streams
from bench.walls import measure_walls

__all__ = ["main"]

DEFAULT_OUT = REPO / "bench" / "results" / "latest.json"


def _part(bench: Bench, name: str, fn: Callable[[], Any], failed: list[str]) -> Any:
    bench.say(f"== {name}")
    try:
        return fn()
    except Exception as exc:  # noqa: BLE001 - one failed part must not lose the others
        failed.append(name)
        bench.say(f"{name} FAILED: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}


def run(sizes: Sizes, parts: tuple[str, ...], out: Path, use_env_stack: bool, keep: bool, mode: str,
        quiet: bool = False) -> tuple[dict[str, Any], list[str]]:
    """Run ``parts``; write ``out`` (JSON) and ``out`` with ``.md``; return results and failed parts."""
    started = time.monotonic()
    load_start = os.getloadavg()[0]
    failed: list[str] = []
    results: dict[str, Any] = {}
    state = Path(tempfile.mkdtemp(prefix="state-", dir=_mkdir(STACK_DIR)))
    echo = None if quiet else lambda m: print(f"  {m}", flush=True)
    if "matching" in parts:  # in process, no stack: the season's descriptions through the matcher
        say = echo or (lambda m: None)
        say("== matching")
        try:
            results["matching"] = measure_matching(
                **({"venues": 8, "productions": 12, "performances": 60} if mode == "smoke" else {}),
                say=say)
        except Exception as exc:  # noqa: BLE001 - one failed part must not lose the others
            failed.append("matching")
            say(f"matching FAILED: {type(exc).__name__}: {exc}")
            results["matching"] = {"error": f"{type(exc).__name__}: {exc}",
                                   "traceback": traceback.format_exc()[-2000:]}
    if set(parts) == {"matching"}:
        return _write(results, failed, parts, out, mode, sizes, started, load_start, state, keep)
    with bench_stack(use_env_stack, keep, echo=echo) as base:
        try:
            preflight(base)
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from exc
        bench = Bench(base, state, quiet=quiet)
        bench.say(f"stack ready ({base.kafka.bootstrap_servers}); parts: {', '.join(parts)}")
        datasets = dataset_cache()
        datasets(sizes.perfs, 2 * sizes.events)  # the streams part sends twice the events
        ds = datasets(sizes.perfs, sizes.events)
        bench.say(f"dataset: {sizes.perfs:,} performances, {sizes.events:,} ticket events "
                  f"({ds.changing_events:,} change availability)")
        if "ceilings" in parts:
            results["ceilings"] = _part(bench, "ceilings",
                                        lambda: measure_ceilings(bench, ds, sizes.ceiling_events), failed)
        if "connectors" in parts:
            results["connectors"] = _part(bench, "connectors", lambda: measure_connectors(bench, ds, sizes),
                                          failed)
        if "walls" in parts:
            results["walls"] = _part(bench, "walls", lambda: measure_walls(bench, ds, sizes), failed)
        filled = None
        if "streams" in parts or "sink" in parts:
            got = _part(bench, "streams", lambda: measure_streams(bench, datasets, sizes), failed)
            if isinstance(got, tuple):
                filled, results["streams"] = got
            else:
                results["streams"] = got
        if "sink" in parts:
            results["sink"] = (_part(bench, "sink", lambda: measure_sink(bench, filled, sizes), failed)
                               if filled is not None else {"error": "no streams run to read from"})
        if "peers" in parts:
            results["peers"] = _part(bench, "peers", lambda: measure_peers(bench, ds, sizes), failed)
        if "scale" in parts or "latency" in parts:
            scale_sizes = sizes if "scale" in parts else replace(
                sizes, scale=(min(sizes.scale, key=lambda pe: abs(pe[0] - 10_000)),))
            latency_at = 10_000 if "latency" in parts else None
            results["scale"] = _part(bench, "scale",
                                     lambda: measure_scale(bench, scale_sizes, datasets, latency_at), failed)
        if "identity" in parts:
            results["identity"] = _part(bench, "identity", lambda: measure_identity(
                bench, smoke=mode == "smoke", cap_s=sizes.max_wait_s), failed)
        if "security" in parts:
            results["security"] = _part(bench, "security", lambda: measure_security(bench, datasets, sizes),
                                        failed)
    return _write(results, failed, parts, out, mode, sizes, started, load_start, state, keep)


def _write(results: dict[str, Any], failed: list[str], parts: tuple[str, ...], out: Path, mode: str,
           sizes: Sizes, started: float, load_start: float, state: Path, keep: bool
           ) -> tuple[dict[str, Any], list[str]]:
    prev = json.loads(out.read_text()) if out.exists() and set(parts) != set(PARTS) else None
    command = ("python -m bench " + shlex.join(sys.argv[1:])).strip()
    meta = {"generated_at": now_iso(), "mode": mode, "command": command,
            "wall_s": round(time.monotonic() - started, 1), "load_1m_start": round(load_start, 2),
            "load_1m_end": round(os.getloadavg()[0], 2), "machine": machine_info(), "git": git_state(),
            "sizes": asdict(sizes), "parts": list(parts), "streams_size": (sizes.perfs, sizes.events)}
    doc = fold(prev, results, meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(markdown(doc))
    if not failed and not keep:
        shutil.rmtree(state, ignore_errors=True)
    return doc, failed


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--smoke", is_flag=True, help="Tiny sizes (about a minute): proves every part still runs.")
@click.option("--only", "only", multiple=True, type=click.Choice(PARTS),
              help="Run this part only (repeatable); the others keep their numbers from the results file. "
                   "'sink' also runs 'streams' (it reads what the workers wrote).")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True,
              help="Results JSON; the Markdown table goes beside it (.md).")
@click.option("--perfs", type=int, default=None, help="Performances of the streams, peer and sink runs.")
@click.option("--events", type=int, default=None, help="Ticket events of the streams, peer and sink runs.")
@click.option("--scale", "scale", default=None, metavar="P:E,...",
              help="Whole-pipeline sizes as performances:events, e.g. 1000:30000,10000:30000,100000:20000.")
@click.option("--rates", default=None, metavar="R,...",
              help="Offered loads (events/s) for latency; 1000 is always among them.")
@click.option("--latency-seconds", type=float, default=None, help="Seconds each offered load lasts.")
@click.option("--latency-warmup", type=float, default=None,
              help="Seconds of load at the lowest rate before the first counted one (default 20).")
@click.option("--max-wait", type=float, default=None, help="Longest wait for any one result (s).")
@click.option("--no-profile", is_flag=True, help="Skip py-spy on the worker and the sink.")
@click.option("--use-env-stack", is_flag=True,
              help="Use the Kafka, registry and ClickHouse the CULTUURBUS_* settings name instead of "
                   "starting a stack under bench/.stack-bench (the security part needs the bench's own "
                   "stack: its broker's second, PLAINTEXT listener).")
@click.option("--keep", is_flag=True, help="Leave the bench's stack running and keep role state and logs.")
def main(smoke: bool, only: tuple[str, ...], out: Path, perfs: int | None, events: int | None,
         scale: str | None, rates: str | None, latency_seconds: float | None,
         latency_warmup: float | None, max_wait: float | None, no_profile: bool, use_env_stack: bool,
         keep: bool) -> None:
    """Benchmarks: throughput, latency and memory against the machine's limits and a peer."""
    sizes = SMOKE if smoke else FULL
    changes: dict[str, Any] = {k: v for k, v in (("perfs", perfs), ("events", events),
                                                 ("latency_seconds", latency_seconds),
                                                 ("latency_warmup_s", latency_warmup),
                                                 ("max_wait_s", max_wait)) if v is not None}
    if scale:
        changes["scale"] = parse_scale(scale)
    if no_profile:
        changes["profile"] = False
    sizes = replace(sizes, **changes)
    if rates:
        sizes = sizes.with_rates(tuple(int(x) for x in rates.split(",")))
    mode = "smoke" if smoke else "full" if not changes and not rates and not only else "custom"
    doc, failed = run(sizes, tuple(p for p in PARTS if not only or p in only), out, use_env_stack, keep, mode)
    click.echo("")
    click.echo(markdown(doc))
    click.echo(f"results: {out} and {out.with_suffix('.md')}")
    if failed:
        click.echo(f"failed parts: {', '.join(failed)} (errors in the results' details)", err=True)
        sys.exit(1)

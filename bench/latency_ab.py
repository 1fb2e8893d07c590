"""Fact -> availability latency of the streams worker alone, checkouts taking turns on one
stack: per round, each checkout's worker (fresh topics, the bench's calendar of 1,000
performances) gets a paced load (``--rate`` ticket events/s for ``--seconds``, after a
warm-up), and the availability topic is watched (``bench.streams.worker_latency``).

Run on its own (not part of ``python -m bench``)::

    git worktree add /tmp/head HEAD
    python -m bench.latency_ab --code head=/tmp/head --code new=. --rounds 3

Each round runs every checkout once, so a machine that gets busier or quieter during the
run weighs on all of them alike. Per round: p50 / p95 / p99 / max of each checkout and
the worker's CPU-seconds over the paced phase; then the medians per checkout.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from bench.ab import checkouts, run_ab
from bench.data import make_dataset
from bench.env import Bench
from bench.options import FULL
from bench.streams import worker_latency

__all__ = ["measure_latency_ab"]


def measure_latency_ab(bench: Bench, codes: dict[str, Path], rounds: int, rate: int, seconds: float,
                       say: Any = print) -> dict[str, Any]:
    """Every checkout of ``codes`` once per round; rows and medians."""
    sizes = replace(FULL, latency_seconds=seconds)
    ds = make_dataset(sizes.perfs, 1000)
    rows = []
    for turn in range(rounds):
        row: dict[str, Any] = {"round": turn}
        for i, (name, path) in enumerate(codes.items()):
            bench.code = path
            got = worker_latency(bench, ds, sizes, rate, f"ab{turn}c{i}")
            for q in ("p50", "p95", "p99", "max"):
                row[f"{name}_{q}_ms"] = got["availability"].get(q)
            row[f"{name}_cpu_s"] = got["worker_cpu_s"]
            row[f"{name}_drained"] = got["drained"]
        say(json.dumps(row))
        rows.append(row)
    medians = {k: statistics.median(r[k] for r in rows) for k in rows[0]
               if k != "round" and not k.endswith("_drained") and rows[0][k] is not None}
    return {"rounds": rounds, "rate": rate, "seconds": seconds, "rows": rows, "medians": medians}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--code", "codes", multiple=True, required=True, metavar="NAME=PATH",
              help="A checkout to run the worker from (repeatable).")
@click.option("--rounds", default=3, show_default=True, help="Turns of every checkout.")
@click.option("--rate", default=1000, show_default=True, help="Offered ticket events per second.")
@click.option("--seconds", default=15.0, show_default=True, help="How long the paced load lasts.")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the result here (JSON).")
def main(codes: tuple[str, ...], rounds: int, rate: int, seconds: float, out: Path | None) -> None:
    """Fact -> availability latency of the worker alone, for one or more checkouts."""
    named = checkouts(codes)
    run_ab("latency-ab-", lambda bench: measure_latency_ab(bench, named, rounds, rate, seconds), out)


if __name__ == "__main__":
    main()

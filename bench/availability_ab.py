"""Availability only, ours against the Quix Streams peer, taking turns on one stack: per
round the peer (``bench.peers.quix_availability``) and then the availability-only worker
(``streams.domains``) of each checkout, on the bench's data (1,000 performances, 30,000
ticket events, as ``python -m bench --only streams`` and ``--only peers`` use).

Run on its own (not part of ``python -m bench``)::

    git worktree add /tmp/head HEAD
    python -m bench.availability_ab --code head=/tmp/head --code new=. --rounds 3

Each round runs the peer and every checkout once, so a machine that gets busier or
quieter during the run weighs on all of them alike. Per round: events/s and events per
CPU-second of each, and ours / Quix per CPU-second; then the medians.
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
from bench.peers.runner import _run, ensure_quix_venv
from bench.streams import _availability_only

__all__ = ["measure_availability"]


def measure_availability(bench: Bench, codes: dict[str, Path], rounds: int, events: int,
                         say: Any = print) -> dict[str, Any]:
    """The Quix peer and every checkout of ``codes`` once per round; rows and medians."""
    sizes = replace(FULL, events=events)
    ds = make_dataset(sizes.perfs, sizes.events)
    quix = str(ensure_quix_venv(say))
    rows = []
    for turn in range(rounds):
        peer = _run(bench, ds, sizes, "quix", quix, "bench.peers.quix_availability",
                    ["--state-dir", str(bench.state / f"quix-state-{turn}")], tag=str(turn))
        row: dict[str, Any] = {"round": turn, "quix_eps": round(peer["eps"]),
                               "quix_eps_per_cpu_s": peer["eps_per_cpu_s"]}
        for i, (name, path) in enumerate(codes.items()):
            bench.code = path
            ours = _availability_only(bench, ds, sizes, tag=f"{turn}c{i}")
            row[f"{name}_eps"] = round(ours["eps"])
            row[f"{name}_eps_per_cpu_s"] = ours["eps_per_cpu_s"]
            row[f"{name}_vs_quix_per_cpu_s"] = round(ours["eps_per_cpu_s"] / peer["eps_per_cpu_s"], 3)
            row[f"{name}_complete"] = ours["complete"]
        say(json.dumps(row))
        rows.append(row)
    medians = {k: statistics.median(r[k] for r in rows) for k in rows[0]
               if k != "round" and not k.endswith("_complete")}
    return {"rounds": rounds, "perfs": sizes.perfs, "events": sizes.events, "rows": rows,
            "medians": medians}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--code", "codes", multiple=True, required=True, metavar="NAME=PATH",
              help="A checkout to run the worker from (repeatable).")
@click.option("--rounds", default=3, show_default=True, help="Turns of the peer and every checkout.")
@click.option("--events", default=FULL.events, show_default=True, help="Ticket events per turn.")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the result here (JSON).")
def main(codes: tuple[str, ...], rounds: int, events: int, out: Path | None) -> None:
    """Availability-only workers of one or more checkouts against the Quix peer."""
    named = checkouts(codes)
    run_ab("availability-ab-", lambda bench: measure_availability(bench, named, rounds, events), out)


if __name__ == "__main__":
    main()

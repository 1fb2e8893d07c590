"""Receivers A/B: the webhook receiver (Eventix ``order.paid``) and the DIP receiver
(cumulative ``PUT`` calls) of two or more checkouts, taking turns on one stack, under the
load of ``python -m bench --only connectors`` (32 requests in flight, the same load
generator, the same warm-up).

Run on its own (not part of ``python -m bench``)::

    git worktree add /tmp/head HEAD
    python -m bench.receivers_ab --code head=/tmp/head --code new=. --rounds 3

Each round runs every checkout once, in the order given, so a machine that gets busier
or quieter during the run weighs on all of them alike. A checkout must run on the
bench's stack as this one does (its SASL logins and ACLs: commits from issue #15 on);
older code needs the bench of its own time. Per checkout and round: facts/s, facts per
CPU-second of the receiver process, p99 answer; then the medians.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from bench.ab import checkouts, run_ab
from bench.connectors import _dip_receiver, _webhook
from bench.data import make_dataset
from bench.env import Bench
from bench.options import FULL

__all__ = ["measure_receivers"]


def _row(name: str, turn: int, hook: dict[str, Any], dip: dict[str, Any]) -> dict[str, Any]:
    return {"code": name, "round": turn,
            "webhook_eps": round(hook["eps"]), "webhook_eps_per_cpu_s": hook["eps_per_cpu_s"],
            "webhook_p99_ms": hook["latency_ms"]["p99"],
            "dip_eps": round(dip["eps"]), "dip_eps_per_cpu_s": dip["eps_per_cpu_s"],
            "dip_p99_ms": dip["latency_ms"]["p99"]}


def measure_receivers(bench: Bench, codes: dict[str, Path], rounds: int, calls: int,
                      say: Any = print) -> dict[str, Any]:
    """Every checkout of ``codes`` (name -> path) once per round; rows and medians."""
    sizes = replace(FULL, connector_records=calls)
    ds = make_dataset(sizes.perfs, sizes.events)
    rows = []
    for turn in range(rounds):
        for name, path in codes.items():
            bench.code = path
            row = _row(name, turn, _webhook(bench, ds, sizes), _dip_receiver(bench, sizes))
            say(json.dumps(row))
            rows.append(row)
    medians = {name: {k: statistics.median(r[k] for r in rows if r["code"] == name)
                      for k in rows[0] if k not in ("code", "round")} for name in codes}
    return {"rounds": rounds, "dip_calls": calls, "webhook_seconds": sizes.webhook_seconds,
            "concurrency": sizes.webhook_concurrency, "rows": rows, "medians": medians}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--code", "codes", multiple=True, required=True, metavar="NAME=PATH",
              help="A checkout to run the receivers from (repeat: two or more).")
@click.option("--rounds", default=3, show_default=True, help="Turns of every checkout.")
@click.option("--calls", default=9_000, show_default=True, help="DIP calls per turn.")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the result here (JSON).")
def main(codes: tuple[str, ...], rounds: int, calls: int, out: Path | None) -> None:
    """Receivers of several checkouts, taking turns on one stack."""
    named = checkouts(codes)
    run_ab("receivers-ab-", lambda bench: measure_receivers(bench, named, rounds, calls), out)


if __name__ == "__main__":
    main()

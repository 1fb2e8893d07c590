"""The ClickHouse sink of one or more checkouts, taking turns on one stack: one streams
run fills the topics (as ``python -m bench --only sink`` does), then per round each
checkout's sink catches up on all of them into a database of its own, and a raw
clickhouse-connect insert of the same rows gives the ceiling for that round.

Run on its own (not part of ``python -m bench``)::

    git worktree add /tmp/head HEAD
    python -m bench.sink_ab --code head=/tmp/head --code new=. --rounds 3

Per round: rows/s and rows per CPU-second of each sink, the raw insert's rows/s and each
sink / raw; then the medians. The rows are decoded for the raw insert with this checkout's
decoder.
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
from bench.sink import _catch_up, _same_rows_insert, _sink_settings
from bench.streams import measure_streams

__all__ = ["measure_sinks"]


def measure_sinks(bench: Bench, codes: dict[str, Path], rounds: int, batch_rows: int | None = None,
                  say: Any = print) -> dict[str, Any]:
    """Every checkout of ``codes`` once per round, and the raw insert; rows and medians.
    ``batch_rows``: ``sink.batch_max_rows`` of every sink and of the raw insert."""
    sizes = replace(FULL, profile=False)
    filled, _ = measure_streams(bench, make_dataset, sizes)
    if batch_rows is not None:
        sink = filled.sink.model_copy(update={"batch_max_rows": batch_rows})
        filled = filled.model_copy(update={"sink": sink})
    rows = []
    for turn in range(rounds):
        row: dict[str, Any] = {"round": turn}
        topics: list[str] = []
        for i, (name, path) in enumerate(codes.items()):
            bench.code = path
            got = _catch_up(bench, filled, sizes, 1, tag=f"_r{turn}c{i}")
            topics = got["topics"]
            row[f"{name}_rows"] = got["rows_written"]
            row[f"{name}_rps"] = round(got["rps"])
            row[f"{name}_rows_per_cpu_s"] = round(got["rows_per_cpu_s"])
            row[f"{name}_cpu_s"] = got["cpu_seconds"]
            row[f"{name}_seconds"] = got["seconds"]
            row[f"{name}_rss_mb"] = got["rss_mb"]
            row[f"{name}_complete"] = got["complete"]
        raw = _same_rows_insert(_sink_settings(filled, 1, f"_r{turn}"), topics)
        row["raw_rps"] = round(raw["rps"])
        for name in codes:
            row[f"{name}_vs_raw"] = round(row[f"{name}_rps"] / raw["rps"], 3) if raw["rps"] else 0.0
        say(json.dumps(row))
        rows.append(row)
    medians = {k: statistics.median(r[k] for r in rows) for k in rows[0]
               if k != "round" and not k.endswith("_complete")}
    return {"rounds": rounds, "perfs": sizes.perfs, "events": sizes.events,
            "batch_max_rows": filled.sink.batch_max_rows, "rows": rows, "medians": medians}


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--code", "codes", multiple=True, required=True, metavar="NAME=PATH",
              help="A checkout to run the sink from (repeatable).")
@click.option("--rounds", default=3, show_default=True, help="Turns of every checkout.")
@click.option("--batch-rows", type=int, default=None,
              help="sink.batch_max_rows of every sink and of the raw insert (default: the setting's).")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the result here (JSON).")
def main(codes: tuple[str, ...], rounds: int, batch_rows: int | None, out: Path | None) -> None:
    """ClickHouse sinks of one or more checkouts against a raw insert of the same rows."""
    named = checkouts(codes)
    run_ab("sink-ab-", lambda bench: measure_sinks(bench, named, rounds, batch_rows), out)


if __name__ == "__main__":
    main()

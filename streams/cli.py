"""``cultuurbus streams ...``."""

from __future__ import annotations

import click

__all__ = ["streams"]


@click.group()
def streams() -> None:
    """The stream processors (Faust): identity, availability, attendance, sales, last-minute."""


@streams.command()
@click.option("--name", default="w1", show_default=True,
              help="Worker name; keeps its RocksDB state under <data_dir>/<name>.")
@click.option("--web-port", type=int, default=None,
              help="Port of /metrics and /healthz (default: streams.web_port). Each worker "
                   "on one machine needs its own.")
@click.option("--loglevel", default="info", show_default=True)
@click.pass_context
def worker(ctx: click.Context, name: str, web_port: int | None, loglevel: str) -> None:
    """Run one worker; start more with other --name/--web-port to share the partitions."""
    from streams.worker import run_worker

    run_worker(ctx.find_root().obj, worker=name, web_port=web_port, loglevel=loglevel)

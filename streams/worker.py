"""Running a worker: load the crosswalk, then hand over to Faust's worker (signals,
graceful shutdown, table recovery)."""

from __future__ import annotations

import logging

import faust

from bus.serde import Registry
from bus.settings import Settings
from streams.app import check_copartitioning, create_app
from streams.identity.reader import CrosswalkReader

__all__ = ["run_worker"]


def run_worker(settings: Settings, *, worker: str = "w1", web_port: int | None = None,
               loglevel: str = "info") -> None:
    """Block running one worker until SIGTERM/SIGINT."""
    check_copartitioning(settings)
    ctx = create_app(settings, worker=worker, web_port=web_port)
    reader = CrosswalkReader(settings, ctx.crosswalk, Registry(settings.registry))
    reader.start()
    logging.getLogger("faust").setLevel(loglevel.upper())
    try:
        faust.Worker(ctx.app, loglevel=loglevel, quiet=True).execute_from_commandline()
    finally:
        reader.stop()

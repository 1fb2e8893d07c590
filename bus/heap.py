"""The collector's settings for a long-running role, once it has started.

What exists when a role has started (the app, its settings, every module imported: 85,000
objects in a receiver, 180,000 in a streams worker) lives as long as the process.
``settle()`` moves it out of the collector's way (``gc.freeze``): a full collection no
longer scans it and stops the event loop for 60-100 ms (a receiver's p99 answer and the
worker's p99 latency, measured).

Then the young generation is collected every ``YOUNG`` allocations instead of 700. A
request or an event makes hundreds of container objects that reference counting frees; at
700 the collector ran every few requests, scanning the objects of every request in flight
each time: a tenth of a receiver's CPU under load (py-spy). A streams worker keeps
Python's threshold: with ``YOUNG`` it did 8% more availability-only events per
CPU-second (median of three rounds, noisy) but peaked ~25 MB higher at 100,000
performances (two runs each), and its memory goal is the one further off.
"""

from __future__ import annotations

import gc

__all__ = ["YOUNG", "settle"]

#: Net allocations of container objects between two collections of the young generation.
YOUNG = 20_000


def settle(young: int | None = YOUNG) -> None:
    """Collect, freeze what survives, and collect the young generation every ``young``
    allocations (``None``: Python's threshold). Only in a process of its own: not in code
    that runs inside other programs (tests)."""
    gc.collect()
    gc.freeze()
    if young is not None:
        gc.set_threshold(young, *gc.get_threshold()[1:])

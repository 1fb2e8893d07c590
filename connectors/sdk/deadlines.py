"""Deadlines for many short waits on one event loop, kept by one timer.

``asyncio.timeout`` arms a timer for every wait: a ``TimerHandle`` pushed on the loop's
heap (compared by a Python ``__lt__`` at every step) and cancelled again. A receiver
waits for Kafka's acknowledgement on every request, so that was a few percent of its CPU
under load. Here a wait is an entry in a dict and one timer per event loop, armed while
anything waits, sweeps the entries every ``tick`` seconds: a deadline is kept to within
a tick, and a wait that ends in time costs no timer at all.

Only for waits on a future that may simply be resolved at the deadline (``set_result(None)``),
so that the waiter finds out what did not happen by itself (the publisher counts the
delivery reports still missing); nothing is cancelled.
"""

from __future__ import annotations

import asyncio
import weakref

__all__ = ["Deadlines"]


class _Sweep:
    """The waits of one event loop (which it does not hold: the loops are weak keys)."""

    __slots__ = ("armed", "pending", "tick")

    def __init__(self, tick: float) -> None:
        self.tick = tick
        self.pending: dict[asyncio.Future[None], float] = {}
        self.armed = False

    def sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        for fut, when in list(self.pending.items()):
            if fut.done():
                del self.pending[fut]
            elif when <= now:
                fut.set_result(None)
                del self.pending[fut]
        self.armed = bool(self.pending)
        if self.armed:
            loop.call_later(self.tick, self.sweep, loop)


class Deadlines:
    """Resolves futures whose deadline passed (see the module's docstring).

    Args:
        tick: how often the waits are swept, in seconds; a deadline is kept to within it.

    """

    def __init__(self, tick: float = 0.1) -> None:
        self._tick = tick
        self._sweeps: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sweep] = (
            weakref.WeakKeyDictionary())

    def resolve_after(self, fut: asyncio.Future[None], seconds: float) -> None:
        """``fut.set_result(None)`` once ``seconds`` have passed, unless it is done by then.

        Must be called on the loop ``fut`` belongs to.
        """
        loop = fut.get_loop()
        sweep = self._sweeps.get(loop)
        if sweep is None:
            # a loop closed while a wait was pending would stay referenced by that wait's
            # future (so never leave the weak-keyed map): forget such loops when a new one comes
            for closed in [other for other in self._sweeps if other.is_closed()]:
                del self._sweeps[closed]
            sweep = self._sweeps[loop] = _Sweep(self._tick)
        sweep.pending[fut] = loop.time() + seconds
        if not sweep.armed:
            sweep.armed = True
            loop.call_later(self._tick, sweep.sweep, loop)

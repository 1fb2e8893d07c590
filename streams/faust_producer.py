"""The producer side of the worker's Faust hooks (listed and checked with the others in
``streams.faust_hooks``): a changelog flush that waits for every buffered write, and
Faust's sends counted before each offset commit."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import faust.transport.producer as faust_producer
from faust.transport.drivers import aiokafka as faust_aiokafka

from bus.log import get_logger

__all__ = ["FLUSH_STALL_LOG_S", "flush_changelog_fully", "guard_commits", "tracking_producer"]

_log = get_logger("streams")


def tracking_producer() -> type[faust_aiokafka.Producer]:
    """Faust's aiokafka producer whose every ``send`` (Faust's changelog writes, dead
    letters) is handed to the app's ``track`` (:func:`guard_commits`)."""

    class Producer(faust_aiokafka.Producer):
        def _new_producer(self, transactional_id: str | None = None) -> Any:
            producer = super()._new_producer(transactional_id)
            send, track = producer.send, _GUARDS.get(self.app, (None, None))[1]
            if track is not None:
                async def tracked_send(*args: Any, **kwargs: Any) -> Any:
                    fut = await send(*args, **kwargs)
                    track(fut)
                    return fut
                producer.send = tracked_send
            return producer

    return Producer


_Guard = tuple[Callable[[], Awaitable[None]], Callable[[Any], None]]
_GUARDS: weakref.WeakKeyDictionary[Any, _Guard] = weakref.WeakKeyDictionary()


def guard_commits(app: Any, guard: Callable[[], Awaitable[None]], track: Callable[[Any], None]) -> None:
    """Await ``guard()`` before every offset commit of ``app``'s consumer (one made by
    ``streams.faust_hooks.fetching_consumer``), and hand ``track`` the delivery future of every record
    Faust sends (with :func:`tracking_producer`); when ``guard`` raises, nothing is committed
    and the error goes where Faust sends a failed commit (it crashes the worker)."""
    _GUARDS[app] = (guard, track)


#: Seconds a flush waits without a changelog write handed on before it logs that it still waits.
FLUSH_STALL_LOG_S = 10.0


def flush_changelog_fully() -> None:
    """Make Faust's changelog buffer's ``flush`` return only once every write it held, and
    the one being handed on, is with the producer (all apps of this process).

    Faust's flush waits at most 0.1 s for each write to be handed to aiokafka and returns
    when one takes longer, with the rest still buffered. A commit flushes the buffer and
    then commits the offsets of the facts whose table writes these are; a revocation
    flushes it and then gives the partitions away. Returning early, a commit could move
    past facts whose writes to ``identity-parked`` or ``identity-routed`` were still here,
    and a partition could go to another worker that recovered its tables without them:
    facts parked and never released (a performance at ``sold 0``). aiokafka holds a send
    while a full batch of its partition waits for the broker, so on a busy machine with
    thousands of writes buffered that is not rare.

    Here the flush waits for as long as the buffer holds writes; each send either hands
    the write on or fails (aiokafka's request timeout), which crashes the producer as it
    would in Faust. It logs every ``FLUSH_STALL_LOG_S`` it waits without progress. A
    buffer that is not running is not waited for: Faust raises if it still holds writes.
    """
    buffer = faust_producer.ProducerBuffer
    if getattr(buffer, "_flushes_fully", False):
        return
    send_pending = buffer._send_pending

    async def _send_pending(self: Any, fut: Any) -> None:
        self._handing_on = True
        try:
            await send_pending(self, fut)
        finally:
            self._handing_on = False

    async def flush(self: Any) -> None:
        stalled = 0.0
        while self.size or getattr(self, "_handing_on", False):
            if self.state != "running":
                if self.size:
                    raise RuntimeError("Cannot flush: Producer not Running")
                return
            self.message_sent.clear()  # set by _handle_pending after each write handed on
            try:
                await asyncio.wait_for(self.message_sent.wait(), timeout=1.0)
                stalled = 0.0
            except TimeoutError:
                stalled += 1.0
                if stalled % FLUSH_STALL_LOG_S == 0:
                    _log.warning("changelog flush still waiting for the producer",
                                 extra={"buffered": self.size, "waited_s": stalled})

    buffer._send_pending = _send_pending  # type: ignore[method-assign]
    buffer.flush = flush  # type: ignore[method-assign]
    buffer._flushes_fully = True  # type: ignore[attr-defined]

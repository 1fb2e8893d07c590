"""Server-Sent Events: fan-out of view changes to clients, with resume.

The loader thread hands each batch of changes to :meth:`Broadcaster.notify_threadsafe`;
the event loop puts them into every matching client's bounded queue without waiting.
A client whose queue is full is too slow: it is dropped (logged, counted) and can
reconnect with its Last-Event-ID. A stream first replays the ring after the client's
Last-Event-ID (or sends ``reset`` when that id is older than the ring), then goes live;
changes it already replayed are skipped by sequence number, so nothing is missed or
repeated. A tenant's stream ends once its token lost its access (revoked or rotated),
checked every heartbeat: the client reconnects and is refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass

import anyio
from sse_starlette import ServerSentEvent

from bus.log import get_logger
from sinks.gateway.errors import BadParameterError
from sinks.gateway.metrics import GatewayMetrics
from sinks.gateway.view import AVAILABILITY_EVENTS, LASTMINUTE_EVENTS, Change, View

__all__ = [
    "Broadcaster",
    "StreamFilter",
    "Subscriber",
    "event_stream",
    "parse_last_event_id",
    "parse_topics",
]

log = get_logger(__name__)

TOPIC_EVENTS = {"availability": AVAILABILITY_EVENTS, "lastminute": LASTMINUTE_EVENTS}


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """Which changes one client wants."""

    events: frozenset[str]
    performance_id: str | None = None
    region: str | None = None

    def matches(self, change: Change) -> bool:
        return (change.event in self.events
                and (self.performance_id is None or change.performance_id == self.performance_id)
                and (self.region is None or (change.region or "").casefold() == self.region.casefold()))


def parse_topics(value: str | None) -> frozenset[str]:
    """``availability,lastminute`` -> the SSE event types those topics carry (empty items
    ignored; nothing at all: both)."""
    parts = [p for p in (part.strip() for part in (value or "").split(",")) if p]
    events: set[str] = set()
    for part in parts or ["availability", "lastminute"]:
        name = part.lower()
        if name not in TOPIC_EVENTS:
            raise BadParameterError("topics", f"unknown topic {part!r}; use availability, "
                                    "lastminute or both separated by a comma")
        events |= TOPIC_EVENTS[name]
    return frozenset(events)


def parse_last_event_id(header: str | None, query: str | None) -> int | None:
    """The Last-Event-ID (header wins over ``?last_event_id=``), or None."""
    name, value = ("Last-Event-ID", header) if header else ("last_event_id", query)
    if value is None or not value.strip():
        return None
    try:
        out = int(value.strip())
    except ValueError:
        raise BadParameterError(name, f"{value!r} is not an event id; send the id of the last event "
                                "received, or the last_event_id of a snapshot") from None
    if out < 0:
        raise BadParameterError(name, f"{value!r} is not an event id (negative)")
    return out


class Subscriber:
    """One connected client: its filter and a bounded queue of changes for it.

    ``None`` in the queue means the gateway is shutting down.
    """

    def __init__(self, filt: StreamFilter, maxsize: int) -> None:
        self.filter = filt
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue(maxsize)
        self.overflowed = False
        self.ended = False

    def end(self) -> None:
        """Ends this stream cleanly (server shutdown): the response completes."""
        self.ended = True
        self.overflowed = False
        while True:
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()

    def offer(self, change: Change | None) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflowed = True
            # Wake the stream so it notices now, even if it is waiting on an empty get().
            self.queue.get_nowait()
            self.queue.put_nowait(None)


class Broadcaster:
    """Fans changes out to subscribers; every method but ``notify_threadsafe`` runs in the loop.

    Args:
        metrics: the gateway's metrics.
        client_queue: changes one client may have pending before it is dropped.

    """

    def __init__(self, metrics: GatewayMetrics, client_queue: int = 1024) -> None:
        self.metrics = metrics
        self.client_queue = client_queue
        self.subscribers: set[Subscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.closed = False

    def notify_threadsafe(self, changes: list[Change]) -> None:
        """Called from the loader thread; schedules :meth:`publish` on the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.publish, changes)
            except RuntimeError:  # the loop closed between the check and the call
                pass

    def publish(self, changes: list[Change]) -> None:
        for sub in list(self.subscribers):
            for change in changes:
                if sub.filter.matches(change):
                    sub.offer(change)

    def register(self, filt: StreamFilter) -> Subscriber:
        sub = Subscriber(filt, self.client_queue)
        self.subscribers.add(sub)
        self.metrics.sse_clients.set(len(self.subscribers))
        return sub

    def unregister(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
        self.metrics.sse_clients.set(len(self.subscribers))

    def close(self) -> None:
        """Ends every stream (shutdown)."""
        self.closed = True
        for sub in list(self.subscribers):
            sub.end()

    def close_threadsafe(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(self.close)
            except RuntimeError:
                pass


def _event(change: Change, metrics: GatewayMetrics) -> ServerSentEvent:
    metrics.sse_events.labels(change.event).inc()
    if change.updated_at_ms is not None:
        metrics.event_age.labels(change.event).observe(max(time.time() - change.updated_at_ms / 1000, 0.0))
    return ServerSentEvent(data=change.data, event=change.event, id=str(change.seq))


async def _end_on(shutdown: anyio.Event, sub: Subscriber) -> None:
    await shutdown.wait()
    sub.end()


async def _end_unless(allowed: Callable[[], bool], every_s: float, sub: Subscriber,
                      peer: str) -> None:
    while not sub.ended:
        await asyncio.sleep(every_s)
        if not allowed():
            log.info("ending the SSE stream of a tenant whose token lost its access",
                     extra={"peer": peer})
            sub.end()
            return


async def event_stream(view: View, broadcaster: Broadcaster, filt: StreamFilter,
                       last_event_id: int | None, peer: str = "",
                       shutdown: anyio.Event | None = None,
                       max_s: float | None = None, *,
                       allowed: Callable[[], bool] | None = None,
                       check_s: float = 15.0) -> AsyncGenerator[ServerSentEvent, None]:
    """The events of one SSE connection: ``hello`` or ``reset`` or a replay, then live.

    Args:
        view: the view whose ring serves the replay.
        broadcaster: where live changes come from.
        filt: what this client wants.
        last_event_id: the client's Last-Event-ID, or None for a fresh stream.
        peer: client address, for the log line when it is dropped.
        shutdown: set by the server when it shuts down; the stream then ends cleanly.
        max_s: end the stream cleanly after this many seconds (None: never).
        allowed: for a tenant's stream, whether its token still opens the gateway; the
            stream ends cleanly once it does not (None: a public stream).
        check_s: seconds between two ``allowed`` checks (the heartbeat).

    """
    metrics = broadcaster.metrics
    deadline = None if max_s is None else time.monotonic() + max_s
    sub = broadcaster.register(filt)  # before reading the ring: nothing can fall in between
    watchers = [asyncio.ensure_future(_end_on(shutdown, sub))] if shutdown is not None else []
    if allowed is not None:
        watchers.append(asyncio.ensure_future(_end_unless(allowed, check_s, sub, peer)))
    try:
        plan = view.resume(last_event_id)
        sent = plan.position
        if plan.reset:
            metrics.sse_resets.inc()
            metrics.sse_events.labels("reset").inc()
            yield ServerSentEvent(
                event="reset", id=str(plan.position),
                data=f'{{"reason":"last_event_id {last_event_id} is no longer buffered; '
                     f'refetch the snapshot","last_event_id":"{plan.position}"}}')
        elif last_event_id is None:
            yield ServerSentEvent(event="hello", id=str(plan.position),
                                  data=f'{{"last_event_id":"{plan.position}"}}')
        for change in plan.replay:
            if filt.matches(change):
                yield _event(change, metrics)
        while not broadcaster.closed and not sub.ended:
            if sub.overflowed:
                metrics.sse_dropped.labels("overflow").inc()
                log.warning("dropping slow SSE client", extra={
                    "peer": peer, "queue": broadcaster.client_queue, "last_event_id": sent})
                return
            if deadline is None:
                item = await sub.queue.get()
            else:
                try:
                    item = await asyncio.wait_for(sub.queue.get(), max(deadline - time.monotonic(), 0))
                except TimeoutError:
                    return
            if item is None:
                continue  # overflow or shutdown: the loop condition decides
            if item.seq <= sent:
                continue  # already replayed
            sent = item.seq
            yield _event(item, metrics)
    finally:
        for watcher in watchers:
            watcher.cancel()
        broadcaster.unregister(sub)

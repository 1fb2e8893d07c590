"""Last-minute offers: performances starting within the window that still have seats.

Driven by events (every availability record this worker publishes, handed over in
process by the availability domain, so no second read and decode of the availability
topic) and by time (a timer withdraws offers of performances that started and adds those
entering the window). A withdrawal is a tombstone on the compacted topic.

Only performances that can still be offered or withdrawn are kept in memory (start from
a week ago on); after a rebalance they are rebuilt from the availability table.

Perf notes: a performance is kept as a :class:`Summary` (a named tuple; its names,
places and genres are one shared string each) instead of a dict of fresh strings: at
100,000 performances ~77 MB became ~35 MB (tracemalloc, same records).
"""

from __future__ import annotations

from typing import Any, NamedTuple

from bus.topics import LASTMINUTE
from streams.codec import shared
from streams.context import Out, StreamsContext, now_ms
from streams.lastminute.logic import in_window, offer_for

__all__ = ["LastMinute", "Summary"]

AGENT = "lastminute"
WEEK_MS = 7 * 24 * 3600 * 1000


class Summary(NamedTuple):
    """What an offer needs of a performance's availability record."""

    performance_id: str
    capacity: int | None
    remaining: int | None
    status: str
    title: str | None
    venue_name: str | None
    city: str | None
    region: str | None
    genre: str | None
    start: int | None


def summary_of(pid: str, rec: dict[str, Any]) -> Summary:
    return Summary(shared(pid), rec.get("capacity"), rec.get("remaining"), shared(rec.get("status")),
                   shared(rec.get("title")), shared(rec.get("venue_name")), shared(rec.get("city")),
                   shared(rec.get("region")), shared(rec.get("genre")), rec.get("start"))


class LastMinute:
    """Offers and withdrawals of last-minute performances.

    ``on_availability`` is an availability listener (``streams.availability.domain``);
    ``tick`` runs on a timer (``streams.app``).
    """

    def __init__(self, ctx: StreamsContext) -> None:
        self.ctx = ctx
        self.window_ms = int(ctx.settings.streams.lastminute_window_h * 3600 * 1000)
        self.summaries: dict[str, Summary] = {}
        self.published: dict[str, tuple[Any, ...] | None] = {}
        self._events = ctx.metrics.events_of(AGENT)

    def on_availability(self, pid: str, rec: dict[str, Any] | None, out: list[Out] | None) -> None:
        """Remember the performance; offer or withdraw it now when ``out`` is given (``rec``
        None: the performance itself was withdrawn, so is any offer of it)."""
        if rec is None:
            self.summaries.pop(pid, None)
            if out is not None and self.published.get(pid) is not None:
                self.published[pid] = None
                out.append((LASTMINUTE, pid, None, None))
            return
        summary = summary_of(pid, rec)
        start = summary.start
        if start is None or start < now_ms() - WEEK_MS:
            self.summaries.pop(pid, None)  # cannot be offered by time
        else:
            self.summaries[pid] = summary
        if out is not None:
            self._events.inc()
            self.decide(pid, summary, out)

    def decide(self, pid: str, summary: Summary, out: list[Out]) -> None:
        now = now_ms()
        offer = (offer_for(summary._asdict(), now_ms=now, window_ms=self.window_ms)
                 if in_window(summary.start, now_ms=now, window_ms=self.window_ms) else None)
        sig = None if offer is None else (offer["remaining"], offer["status"], offer["start"])
        if pid in self.published and self.published[pid] == sig:
            return
        if offer is None and pid not in self.published:
            start = summary.start
            if start is None or start < now - WEEK_MS or start > now + self.window_ms:
                # Never in the window (or long gone): nothing this worker could have to
                # withdraw, nor to remember (most performances: ~50 bytes each).
                return
            # Possibly offered before this worker (re)started: withdraw once, idempotently.
        self.published[pid] = sig
        value = None if offer is None else self.ctx.codec.encode(LASTMINUTE, "lastminute_offer.avsc", offer)
        out.append((LASTMINUTE, pid, value, None))

    async def tick(self) -> None:
        """Time moves on: offers enter the window and performances start."""
        out: list[Out] = []
        gone = now_ms() - WEEK_MS
        for pid, summary in list(self.summaries.items()):
            self.decide(pid, summary, out)
            if summary.start is None or summary.start < gone:
                del self.summaries[pid]
        await self.ctx.send_all(out)


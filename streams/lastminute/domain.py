"""Last-minute offers: performances starting within the window that still have seats.

Driven by events (every availability record this worker publishes, handed over in
process by the availability domain, so no second read and decode of the availability
topic) and by time (a timer withdraws offers of performances that started and adds those
entering the window). A withdrawal is a tombstone on the compacted topic.

Only performances that can still be offered or withdrawn are kept in memory (start from
a week ago on); after a rebalance they are rebuilt from the availability table. Of those
starting more than a day after the window, only the id is kept, in a list per day of the
start: a tick reads that day's records back from the availability table (``lookup``) a
day before the first of them can enter the window.

Perf notes: a performance is kept as a :class:`Summary` (a named tuple; its names,
places and genres are one shared string each) instead of a dict of fresh strings: at
100,000 performances ~77 MB became ~35 MB (tracemalloc, same records). Keeping only the
ids of those starting later (most of a season) saved ~13 MB more of ~335 with a set per
day (``python -m bench.worker_memory``, 100,000 performances, 96% of them beyond the
window); a set cost ~65 bytes an id there, a list 8 (repeats are dropped as it grows).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from bus.topics import LASTMINUTE
from streams.codec import shared
from streams.context import Out, StreamsContext, now_ms
from streams.lastminute.logic import in_window, offer_for

__all__ = ["LastMinute", "Summary"]

AGENT = "lastminute"
DAY_MS = 24 * 3600 * 1000
WEEK_MS = 7 * DAY_MS
#: A day of starts is read back this long (or longer) before its first can enter the window.
LEAD_MS = DAY_MS


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

    Args:
        ctx: the app's context.
        lookup: a performance's current availability record (None: none, or withdrawn),
            read from the state; without it every future performance is kept in memory.

    """

    def __init__(self, ctx: StreamsContext,
                 lookup: Callable[[str], dict[str, Any] | None] | None = None) -> None:
        self.ctx = ctx
        self.lookup = lookup
        self.window_ms = int(ctx.settings.streams.lastminute_window_h * 3600 * 1000)
        self.summaries: dict[str, Summary] = {}
        #: day of the start (epoch ms // DAY_MS) -> ids of performances starting then, kept
        #: without their summary until that day comes near (only with ``lookup``); an id
        #: comes again with every change of its record, and repeats are dropped whenever
        #: a day's list reaches a power of two (at most ~4 slots an id)
        self.later: dict[int, list[str]] = {}
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
        now = now_ms()
        if start is None or start < now - WEEK_MS:
            self.summaries.pop(pid, None)  # cannot be offered by time
        elif self.lookup is not None and not self._due(start // DAY_MS, now):
            self.summaries.pop(pid, None)
            ids = self.later.get(start // DAY_MS)
            if ids is None:
                ids = self.later[start // DAY_MS] = []
            ids.append(summary.performance_id)
            n = len(ids)
            if n >= 64 and n & (n - 1) == 0:
                ids[:] = dict.fromkeys(ids)
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

    def _due(self, day: int, now: int) -> bool:
        """Whether the performances starting on ``day`` are kept whole (read back) by now."""
        return day * DAY_MS <= now + self.window_ms + LEAD_MS

    def _read_back(self) -> None:
        """Summaries of the days that came near, from the performances' current records (an id
        whose record moved on since is kept where that record says, or dropped if withdrawn)."""
        if self.lookup is None:
            return
        now = now_ms()
        for day in [d for d in self.later if self._due(d, now)]:
            for pid in dict.fromkeys(self.later.pop(day)):
                rec = self.lookup(pid)
                if rec is not None:
                    self.on_availability(pid, rec, None)

    async def tick(self) -> None:
        """Time moves on: offers enter the window and performances start."""
        self._read_back()
        out: list[Out] = []
        gone = now_ms() - WEEK_MS
        for pid, summary in list(self.summaries.items()):
            self.decide(pid, summary, out)
            if summary.start is None or summary.start < gone:
                del self.summaries[pid]
        await self.ctx.send_all(out)


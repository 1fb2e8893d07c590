"""Last-minute offers: performances starting within the window that still have seats.

Driven by events (every availability record this worker publishes, handed over in
process by the availability domain, so no second read and decode of the availability
topic) and by time (a timer withdraws offers of performances that started and adds those
entering the window). A withdrawal is a tombstone on the compacted topic.

Only performances that can still be offered or withdrawn are kept in memory (start from
a week ago on); after a rebalance they are rebuilt from the availability table.
"""

from __future__ import annotations

from typing import Any

from bus.topics import LASTMINUTE
from streams.context import Out, StreamsContext, now_ms
from streams.lastminute.logic import offer_for

__all__ = ["LastMinute"]

AGENT = "lastminute"
WEEK_MS = 7 * 24 * 3600 * 1000
_KEEP = ("performance_id", "capacity", "remaining", "status", "title", "venue_name", "city",
         "region", "genre", "start")


class LastMinute:
    """Offers and withdrawals of last-minute performances.

    ``on_availability`` is an availability listener (``streams.availability.domain``);
    ``tick`` runs on a timer (``streams.app``).
    """

    def __init__(self, ctx: StreamsContext) -> None:
        self.ctx = ctx
        self.window_ms = int(ctx.settings.streams.lastminute_window_h * 3600 * 1000)
        self.summaries: dict[str, dict[str, Any]] = {}
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
        summary = {k: rec.get(k) for k in _KEEP}
        start = summary["start"]
        if start is None or start < now_ms() - WEEK_MS:
            self.summaries.pop(pid, None)  # cannot be offered by time
        else:
            self.summaries[pid] = summary
        if out is not None:
            self._events.inc()
            self.decide(pid, summary, out)

    def decide(self, pid: str, summary: dict[str, Any], out: list[Out]) -> None:
        now = now_ms()
        offer = offer_for(summary, now_ms=now, window_ms=self.window_ms)
        sig = None if offer is None else (offer["remaining"], offer["status"], offer["start"])
        if pid in self.published and self.published[pid] == sig:
            return
        if offer is None and pid not in self.published:
            start = summary.get("start")
            if start is None or start < now - WEEK_MS or start > now + self.window_ms:
                # Never in the window (or long gone): nothing this worker could have to withdraw.
                self.published[pid] = None
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
            if summary["start"] < gone:
                del self.summaries[pid]
        await self.ctx.send_all(out)


"""Last-minute offers: performances starting within the window that still have seats.

Driven by events (every availability change) and by time (a timer withdraws offers of
performances that started and adds those entering the window). A withdrawal is a
tombstone on the compacted topic.
"""

from __future__ import annotations

from typing import Any

from bus.errors import BusError
from bus.serde import AvroDeserializer
from bus.topics import AVAILABILITY, LASTMINUTE
from streams.context import StreamsContext, now_ms, to_ms
from streams.lastminute.logic import offer_for

__all__ = ["register"]

_KEEP = ("performance_id", "capacity", "remaining", "status", "title", "venue_name", "city",
         "region", "genre", "start")


def register(ctx: StreamsContext) -> None:
    app = ctx.app
    m = ctx.metrics
    window_ms = int(ctx.settings.streams.lastminute_window_h * 3600 * 1000)
    table = ctx.table(
        "lastminute", help="Latest availability summary per performance, for time-driven offers.")
    de = AvroDeserializer(ctx.codec.registry, "availability.avsc")
    published: dict[str, tuple[Any, ...] | None] = {}

    async def decide(pid: str, summary: dict[str, Any]) -> None:
        offer = offer_for(summary, now_ms=now_ms(), window_ms=window_ms)
        sig = None if offer is None else (offer["remaining"], offer["status"], offer["start"])
        if pid in published and published[pid] == sig:
            return
        if offer is None and pid not in published:
            start = summary.get("start")
            if start is None or start < now_ms() - 7 * 24 * 3600 * 1000 or start > now_ms() + window_ms:
                # Never in the window (or long gone): nothing this worker could have to withdraw.
                published[pid] = None
                return
            # Possibly offered before this worker (re)started: withdraw once, idempotently.
        published[pid] = sig
        value = None if offer is None else ctx.codec.encode(LASTMINUTE, "lastminute_offer.avsc", offer)
        await ctx.send(LASTMINUTE, pid, value)

    @app.agent(ctx.topic(AVAILABILITY), name="lastminute")
    async def lastminute(stream: Any) -> None:
        """Offer or withdraw a performance whenever its availability changes."""
        async for event in stream.events():
            m.events.labels("lastminute").inc()
            if event.value is None:
                continue
            try:
                rec = de(event.value)
            except BusError as exc:
                await ctx.dead_letter(event, exc, "lastminute")
                continue
            assert rec is not None
            summary = {k: rec.get(k) for k in _KEEP}
            summary["start"] = to_ms(summary["start"])
            table[f"s:{rec['performance_id']}"] = summary
            await decide(rec["performance_id"], summary)

    @app.timer(interval=ctx.settings.streams.lastminute_tick_s)
    async def tick() -> None:
        """Time moves on: offers enter the window and performances start."""
        for key, summary in list(table.items()):
            if summary is not None and str(key).startswith("s:"):
                await decide(str(key)[2:], summary)

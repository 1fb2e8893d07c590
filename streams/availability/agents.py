"""Availability: live seats per performance, published on every change."""

from __future__ import annotations

from typing import Any

from bus.errors import BusError
from bus.topics import AVAILABILITY, FACTS
from streams.availability import state as av
from streams.context import StreamsContext, now_ms
from streams.store import IdempotentTable, Seen

__all__ = ["register"]


def register(ctx: StreamsContext) -> None:
    app = ctx.app
    m = ctx.metrics
    threshold = ctx.settings.streams.limited_threshold
    table = ctx.table(
        "availability", help="Availability state per canonical performance (s:) and applied fact ids (f:).")
    store = IdempotentTable(table, av.new_state)
    statuses: dict[str, str] = {}  # pid -> last published status, for the status gauge
    for status in av.STATUSES:
        m.performances.labels(status)

    async def publish(pid: str, st: dict[str, Any]) -> None:
        rec = av.availability_record(pid, st, limited_threshold=threshold, now_ms=now_ms())
        await ctx.send(AVAILABILITY, pid, ctx.codec.encode(AVAILABILITY, "availability.avsc", rec))
        old, new = statuses.get(pid), rec["status"]
        if old != new:
            statuses[pid] = new
            if old is not None:
                m.performances.labels(old).dec()
            m.performances.labels(new).inc()

    @app.agent(ctx.topic(FACTS), name="availability")
    async def availability(stream: Any) -> None:
        """Apply each fact once to its performance's availability and publish the change."""
        async for event in stream.events():
            m.events.labels("availability").inc()
            pid = event.key.decode()
            try:
                kind, rec = ctx.codec.decode(event.value)
            except BusError as exc:
                await ctx.dead_letter(event, exc, "availability")
                continue
            st = store.state(pid)
            seen = store.seen(st, rec["fact_id"])
            if seen != Seen.NEW:
                m.duplicates.labels("availability").inc()
                if seen == Seen.RECENT:
                    store.commit(pid, st, None)
                    await publish(pid, st)
                continue
            if kind == "ticket":
                changed = av.apply_ticket(st, rec)
                m.tickets.labels(rec["event_type"], rec.get("channel") or "unknown").inc(
                    rec.get("quantity") or 1)
            elif kind == "snapshot":
                changed = av.apply_snapshot(st, rec)
            else:
                changed = av.apply_calendar(st, rec)
            store.commit(pid, st, rec["fact_id"])
            m.table_keys.labels("availability").set(store.keys)
            if changed:
                await publish(pid, st)
                ctx.observe("availability", rec)

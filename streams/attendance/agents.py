"""Attendance: door scans, sold and no-shows per performance."""

from __future__ import annotations

from typing import Any

from bus.errors import BusError
from bus.topics import ATTENDANCE, FACTS
from streams.attendance import state as at
from streams.context import StreamsContext, now_ms
from streams.store import IdempotentTable, Seen

__all__ = ["register"]


def register(ctx: StreamsContext) -> None:
    app = ctx.app
    m = ctx.metrics
    table = ctx.table(
        "attendance", help="Attendance state per canonical performance (s:) and applied fact ids (f:).")
    store = IdempotentTable(table, at.new_state)
    published_after_start: set[str] = set()

    async def publish(pid: str, st: dict[str, Any]) -> None:
        rec = at.attendance_record(pid, st, now_ms())
        await ctx.send(ATTENDANCE, pid, ctx.codec.encode(ATTENDANCE, "attendance.avsc", rec))
        if rec["no_shows"] is not None:
            published_after_start.add(pid)

    @app.agent(ctx.topic(FACTS), name="attendance")
    async def attendance(stream: Any) -> None:
        """Count scans and net sales once per fact; publish attendance on change."""
        async for event in stream.events():
            m.events.labels("attendance").inc()
            pid = event.key.decode()
            try:
                kind, rec = ctx.codec.decode(event.value)
            except BusError as exc:
                await ctx.dead_letter(event, exc, "attendance")
                continue
            if kind == "snapshot":
                continue
            st = store.state(pid)
            seen = store.seen(st, rec["fact_id"])
            if seen != Seen.NEW:
                m.duplicates.labels("attendance").inc()
                if seen == Seen.RECENT:
                    store.commit(pid, st, None)
                    await publish(pid, st)
                continue
            changed = at.apply(st, kind, rec)
            store.commit(pid, st, rec["fact_id"])
            m.table_keys.labels("attendance").set(store.keys)
            if changed and (kind == "ticket" or st["scanned"]):
                await publish(pid, st)
                ctx.observe("attendance", rec)

    @app.timer(interval=ctx.settings.streams.lastminute_tick_s)
    async def no_shows_after_start() -> None:
        """Publish attendance once when a performance starts, so no-shows become known."""
        now = now_ms()
        for key, st in list(table.items()):
            if not str(key).startswith("s:") or st is None:
                continue
            pid = str(key)[2:]
            if st.get("start") is not None and st["start"] <= now and pid not in published_after_start:
                await publish(pid, st)

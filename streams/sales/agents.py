"""Sales: tickets and revenue per performance per hour and day, ticket type and channel.

Each window's table value holds the contribution of every fact in it, keyed by fact id,
so applying a fact twice (redelivery, replay, a crash between two window writes)
changes nothing. Snapshot deltas are written before the held snapshot moves on.
"""

from __future__ import annotations

from typing import Any

from bus.errors import BusError
from bus.topics import FACTS, SALES
from streams.context import StreamsContext, now_ms, to_ms
from streams.sales import state as sa

__all__ = ["register"]


def register(ctx: StreamsContext) -> None:
    app = ctx.app
    m = ctx.metrics
    table = ctx.table(
        "sales", help="Sales windows (w:), held snapshots (h:) and starts (p:) per performance.")

    async def add(pid: str, fact_id: str, time_ms: int, deltas: list[sa.Delta]) -> bool:
        start = table.get(f"p:{pid}")
        changed = False
        for tt, channel, tickets, revenue in deltas:
            for gran, wstart in sa.windows_of(time_ms):
                wk = sa.window_key(pid, gran, wstart, tt, channel)
                w = table.get(f"w:{wk}") or {"facts": {}}
                if fact_id in w["facts"]:
                    continue
                w["facts"][fact_id] = [tickets, revenue]
                table[f"w:{wk}"] = w
                changed = True
                rec = {"performance_id": pid, "granularity": gran, "window_start": wstart,
                       "ticket_type": tt, "channel": channel,
                       "tickets": sum(v[0] for v in w["facts"].values()),
                       "revenue_cents": sum(v[1] for v in w["facts"].values()),
                       "days_before_show": None if start is None else (start - wstart) // sa.DAY_MS,
                       "updated_at": now_ms()}
                await ctx.send(SALES, wk, ctx.codec.encode(SALES, "sales_window.avsc", rec))
        return changed

    @app.agent(ctx.topic(FACTS), name="sales")
    async def sales(stream: Any) -> None:
        """Add each sale/refund (or snapshot delta) once to its hour and day windows."""
        async for event in stream.events():
            m.events.labels("sales").inc()
            pid = event.key.decode()
            try:
                kind, rec = ctx.codec.decode(event.value)
            except BusError as exc:
                await ctx.dead_letter(event, exc, "sales")
                continue
            t = to_ms(rec["event_time"])
            assert t is not None
            if kind == "performance":
                held = table.get(f"p:{pid}")
                start = to_ms(rec["start"])
                if held != start:
                    table[f"p:{pid}"] = start
                continue
            if kind == "ticket":
                deltas = sa.ticket_deltas(rec)
                if deltas and not await add(pid, rec["fact_id"], t, deltas):
                    m.duplicates.labels("sales").inc()
            else:
                hkey = f"h:{pid}|{rec['source_system']}/{rec['source_account']}"
                deltas, hold = sa.snapshot_deltas(table.get(hkey), rec)
                if hold is None:
                    m.duplicates.labels("sales").inc()
                    continue
                await add(pid, rec["fact_id"], t, deltas)
                table[hkey] = hold
            ctx.observe("sales", rec)

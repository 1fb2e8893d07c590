"""Sales: tickets and revenue per performance per hour and day, ticket type and channel.

Applied by the facts agent (``streams.facts.agents``). Each window value holds its totals and the
last facts offset applied to it (``o``, see ``streams.store``), so a fact is added to a
window once whatever else made it to the changelog before a crash. Windows are written
before the held snapshot of their source moves on (same table, same partition, in that
order), so the deltas of a snapshot are never lost. One write and one record per window
per batch.
"""

from __future__ import annotations

from typing import Any

from bus.topics import SALES
from streams.context import Out, StreamsContext, now_ms
from streams.facts.fact import Fact
from streams.sales import state as sa
from streams.store import JsonTable

__all__ = ["SalesDomain"]

AGENT = "sales"


class SalesDomain:
    """Windows (``w:<window key>``), held snapshots (``h:<id>|<source>``) and starts (``p:<id>``)."""

    agent = AGENT

    def __init__(self, ctx: StreamsContext) -> None:
        self.ctx = ctx
        self.table = JsonTable(ctx.raw_table(
            "sales-state", help="Sales windows (w:), held snapshots (h:) and starts (p:) per "
                                "performance, each with the last facts offset applied (o)."))

    def apply(self, pid: str, facts: list[Fact], out: list[Out]) -> None:
        """Add a batch's sales and refunds (or snapshot deltas) to their hour and day windows."""
        table = self.table
        windows: dict[str, dict[str, Any]] = {}
        dirty: dict[str, dict[str, Any]] = {}  # written: windows first, then held, then start
        republish: set[str] = set()
        held_keys: list[str] = []
        start: dict[str, Any] | None = None
        start_dirty = False
        applied = []
        for f in facts:
            rec = f.rec
            if f.kind == "performance":
                if f.retract:
                    continue  # a start is description: a calendar fact's retraction leaves it
                if start is None:
                    start = table.get("p:" + pid) or {"start": None, "o": -1}
                if f.offset > start["o"] and start["start"] != rec["start"]:
                    start.update(start=rec["start"], o=f.offset)
                    start_dirty = True
                continue
            if f.kind == "ticket":
                deltas = sa.ticket_deltas(rec, -1 if f.retract else 1)
            else:
                hkey = f"h:{pid}|{rec['source_system']}/{rec['source_account']}"
                held = dirty.get(hkey) or table.get(hkey)
                if held is not None and f.offset <= held.get("o", -1):
                    continue  # this snapshot's deltas are in the windows already
                deltas, hold = (sa.retracted_snapshot_deltas if f.retract else sa.snapshot_deltas)(held, rec)
                if hold is None:
                    continue  # older than the one held
                hold["o"] = f.offset
                dirty[hkey] = hold
                if hkey not in held_keys:
                    held_keys.append(hkey)
            if not deltas:
                continue
            time_ms = rec["event_time"]
            for tt, channel, tickets, revenue in deltas:
                for gran, wstart in sa.windows_of(time_ms):
                    wk = sa.window_key(pid, gran, wstart, tt, channel)
                    w = windows.get(wk)
                    if w is None:
                        w = windows[wk] = table.get("w:" + wk) or {
                            "g": gran, "s": wstart, "tt": tt, "ch": channel, "t": 0, "r": 0, "o": -1}
                    if f.offset <= w["o"]:
                        republish.add(wk)  # a redelivery after a crash: publish again
                        continue
                    w["t"] += tickets
                    w["r"] += revenue
                    w["o"] = f.offset
                    dirty["w:" + wk] = w
            if f.move is None:  # a moved fact's age is how late its link was undone, not a latency
                applied.append(rec)
        for key, value in dirty.items():
            if key.startswith("w:"):
                table.put(key, value)
        for key in held_keys:
            table.put(key, dirty[key])
        if start_dirty:
            assert start is not None
            table.put("p:" + pid, start)
        published = [wk for wk in windows if "w:" + wk in dirty or wk in republish]
        if not published:
            return
        if start is None:
            start = table.get("p:" + pid) or {"start": None}
        show = start["start"]
        now = now_ms()
        for wk in published:
            w = windows[wk]
            rec = {"performance_id": pid, "granularity": w["g"], "window_start": w["s"],
                   "ticket_type": w["tt"], "channel": w["ch"], "tickets": w["t"], "revenue_cents": w["r"],
                   "days_before_show": None if show is None else (show - w["s"]) // sa.DAY_MS,
                   "updated_at": now}
            out.append((SALES, wk, self.ctx.codec.encode(SALES, "sales_window.avsc", rec), None))
        self.ctx.observe(AGENT, applied)


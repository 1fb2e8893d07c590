"""Attendance: door scans, sold and no-shows per performance.

Applied by the facts agent (``streams.facts.agents``), one read and one write per performance
per batch. A timer publishes a performance once when it starts, so no-shows become known;
it looks only at the starts this worker is still waiting for (kept in memory, rebuilt
from the table after every rebalance), never at the whole table.
"""

from __future__ import annotations

from typing import Any

from bus.topics import ATTENDANCE
from streams.attendance import state as at
from streams.context import Out, StreamsContext, now_ms
from streams.facts.fact import Fact
from streams.store import JsonTable

__all__ = ["AttendanceDomain"]

AGENT = "attendance"


class AttendanceDomain:
    """Attendance state per canonical performance (``s:<id>``), see ``streams.store``."""

    agent = AGENT

    def __init__(self, ctx: StreamsContext) -> None:
        self.ctx = ctx
        self.table = JsonTable(ctx.raw_table(
            "attendance-state", help="Attendance state per canonical performance (s:<id>), "
                                     "with the last facts offset applied (o)."))
        self.keys = 0
        self._keys_gauge = ctx.metrics.table_keys_of("attendance")
        self.waiting: dict[str, int] = {}  # pid -> start, not yet published after its start
        self.published_after_start: set[str] = set()
        self.table.on_recover(self._recovered)

    async def _recovered(self) -> None:
        self.keys = 0
        self.waiting.clear()
        for key, st in self.table.items("s:"):
            self.keys += 1
            self._wait_for_start(key[2:], st)
        self._keys_gauge.set(self.keys)

    def _wait_for_start(self, pid: str, st: dict[str, Any]) -> None:
        if st.get("start") is not None and pid not in self.published_after_start:
            self.waiting[pid] = st["start"]
        else:
            self.waiting.pop(pid, None)

    def record(self, pid: str, st: dict[str, Any]) -> Out:
        rec = at.attendance_record(pid, st, now_ms())
        if rec["no_shows"] is not None:
            self.published_after_start.add(pid)
            self.waiting.pop(pid, None)
        return ATTENDANCE, pid, self.ctx.codec.encode(ATTENDANCE, "attendance.avsc", rec), None

    def apply(self, pid: str, facts: list[Fact], out: list[Out]) -> None:
        """Count scans and net sales of a batch's first deliveries; publish on change."""
        key = "s:" + pid
        st = self.table.get(key)
        if st is None:
            st = at.new_state()
            st["o"] = -1
            self.keys += 1
            self._keys_gauge.set(self.keys)
        applied = []
        changed = publish = False
        for f in facts:
            if f.kind == "snapshot":
                continue
            if f.offset <= st["o"]:
                publish = True  # a redelivery after a crash: publish again in case it was lost
                continue
            if (at.retract if f.retract else at.apply)(st, f.kind, f.rec):
                st["o"] = f.offset
                changed = True
                if f.move is None:  # a moved fact's age is how late its link was undone, not a latency
                    applied.append(f.rec)
                publish = publish or f.kind == "ticket" or bool(st["scanned"])
        if changed:
            self.table.put(key, st)
            self._wait_for_start(pid, st)
        if publish:
            out.append(self.record(pid, st))
            self.ctx.observe(AGENT, applied)

    async def tick(self) -> None:
        """Publish attendance once when a performance starts, so no-shows become known."""
        now = now_ms()
        due = [pid for pid, start in self.waiting.items() if start <= now]
        out = []
        for pid in due:
            st = self.table.get("s:" + pid)
            if st is None:
                self.waiting.pop(pid, None)
                continue
            out.append(self.record(pid, st))
        await self.ctx.send_all(out)


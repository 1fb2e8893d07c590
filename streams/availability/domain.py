"""Availability: live seats per performance, published after every batch that changes them.

Applied by the facts agent (``streams.facts.agents``), which decodes each fact once for every
domain. One state read and one write per performance per batch; the Availability record
goes out once per performance per batch with the state after the whole batch (several
facts for one performance in one batch become one record; ``version`` counts facts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bus.log import get_logger
from bus.topics import AVAILABILITY, RECONCILIATION
from streams.availability import declared as decl
from streams.availability import state as av
from streams.context import Out, StreamsContext, now_ms
from streams.facts.fact import Fact
from streams.store import JsonTable

log = get_logger(__name__)

__all__ = ["AvailabilityDomain", "AvailabilityListener"]

AGENT = "availability"

#: Called with (performance id, Availability record, outbox) whenever availability is
#: published, with record None when the performance is withdrawn (everything moved away:
#: ``state.moved_away``), and with outbox None for every performance held after a recovery.
AvailabilityListener = Callable[[str, dict[str, Any] | None, list[Out] | None], None]


class AvailabilityDomain:
    """Availability state per canonical performance (``s:<id>``), see ``streams.store``.

    Args:
        ctx: the app's context (settings, codec, metrics, tables).
        listeners: told about every availability record, in this order (last-minute).

    """

    agent = AGENT

    def __init__(self, ctx: StreamsContext, listeners: Sequence[AvailabilityListener] = ()) -> None:
        self.ctx = ctx
        self.listeners = tuple(listeners)
        m = ctx.metrics
        self.threshold = ctx.settings.streams.limited_threshold
        self.drift_seats = ctx.settings.streams.declared_drift_seats
        self.drifting: set[str] = set()  # pids whose reconciliation says DRIFT, for the gauge
        self.table = JsonTable(ctx.raw_table(
            "availability-state", help="Availability state per canonical performance (s:<id>), "
                                       "with the last facts offset applied (o)."))
        self.statuses: dict[str, str] = {}  # pid -> last published status, for the status gauge
        self.keys = 0
        self._keys_gauge = m.table_keys_of("availability")
        for status in av.STATUSES:
            m.performances_of(status)
        self.table.on_recover(self._recovered)

    async def _recovered(self) -> None:
        """After a rebalance: count the states held and tell listeners (last-minute) about them."""
        self.keys = 0
        self.drifting = set()
        for key, st in self.table.items("s:"):
            self.keys += 1
            if av.moved_away(st):
                continue
            if decl.in_drift(st):
                self.drifting.add(key[2:])
            rec = decl.availability(key[2:], st, limited_threshold=self.threshold, now_ms=now_ms())
            self._status(key[2:], rec["status"])
            for listener in self.listeners:
                listener(key[2:], rec, None)  # remembered; decided on the next tick
        self._keys_gauge.set(self.keys)
        self.ctx.metrics.drift_performances.set(len(self.drifting))

    def record(self, pid: str) -> dict[str, Any] | None:
        """The Availability record of ``pid`` as published now, from its state (None: no state
        in this worker's partitions, or withdrawn). Outside a batch: a key read in every
        partition's store, for what is read back now and then (last-minute), not per fact."""
        st = self.table.get("s:" + pid)
        if st is None or av.moved_away(st):
            return None
        return decl.availability(pid, st, limited_threshold=self.threshold, now_ms=now_ms())

    def _status(self, pid: str, new: str) -> None:
        old = self.statuses.get(pid)
        if old != new:
            self.statuses[pid] = new
            if old is not None:
                self.ctx.metrics.performances_of(old).dec()
            self.ctx.metrics.performances_of(new).inc()

    def apply(self, pid: str, facts: list[Fact], out: list[Out]) -> None:
        """Apply a batch's first deliveries for one performance; publish if it changed."""
        key = "s:" + pid
        st = self.table.get(key)
        if st is None:
            st = av.new_state()
            st["o"] = -1
            self.keys += 1
            self._keys_gauge.set(self.keys)
        applied = []
        observed = []
        replayed = False
        tickets = self.ctx.metrics.tickets_of
        for f in facts:
            if f.offset <= st["o"]:
                replayed = True
                continue
            rec = f.rec
            if f.retract:  # counted here before; it belongs to another performance
                changed = av.retract(st, f.kind, rec)
            elif f.kind == "ticket":
                changed = av.apply_ticket(st, rec)
                if f.move is None:  # a re-sent fact was counted in the metric when it first came
                    tickets(rec["event_type"], rec.get("channel") or "unknown").inc(rec.get("quantity") or 1)
            elif f.kind == "snapshot":
                changed = av.apply_snapshot(st, rec)
            else:
                changed = av.apply_calendar(st, rec)
            if not f.retract:
                changed = decl.apply_declared(st, f.kind, rec) or changed
            if changed:
                st["o"] = f.offset
                applied.append(rec)
                if f.move is None:  # a moved fact's age is how late its link was undone, not a latency
                    observed.append(rec)
        if applied:
            self.table.put(key, st)
        if (applied or replayed) and av.moved_away(st):
            self._withdraw(pid, out)
        elif applied or replayed:
            rec = decl.availability(pid, st, limited_threshold=self.threshold, now_ms=now_ms())
            self._reconcile(key, pid, st, rec, out)
            out.append((AVAILABILITY, pid, self.ctx.codec.encode(AVAILABILITY, "availability.avsc", rec),
                        None))
            self._status(pid, rec["status"])
            for listener in self.listeners:
                listener(pid, rec, out)
            self.ctx.observe(AGENT, observed)


    def _withdraw(self, pid: str, out: list[Out]) -> None:
        """Everything of ``pid`` was moved to another performance: a tombstone, so no app
        shows one show twice (the moved-from copy with all its seats free)."""
        out.append((AVAILABILITY, pid, None, None))
        old = self.statuses.pop(pid, None)
        if old is not None:
            self.ctx.metrics.performances_of(old).dec()
        for listener in self.listeners:
            listener(pid, None, out)
        log.info("performance withdrawn: everything it held was moved to another performance",
                 extra={"performance": pid})

    def _reconcile(self, key: str, pid: str, st: av.State, rec: dict[str, Any], out: list[Out]) -> None:
        """Publish a Reconciliation when the verdict on declared vs computed changes."""
        found = decl.reconcile(pid, st, rec, drift_seats=self.drift_seats, now_ms=now_ms())
        if found is None:
            return
        self.table.put(key, st)  # the verdict is state: a restarted worker keeps it
        out.append((RECONCILIATION, pid, self.ctx.codec.encode(RECONCILIATION, "reconciliation.avsc",
                                                               found), None))
        if found["state"] == "DRIFT":
            if pid not in self.drifting:  # a drift that only changes size is the same drift
                self.ctx.metrics.drift_detections.inc()
            self.drifting.add(pid)
            log.warning("declared availability drifts from the computed one",
                        extra={"performance": pid, "drift": found["drift"],
                               "declared_source": found["declared_source"]})
        else:
            self.drifting.discard(pid)
            log.info("declared availability agrees with the computed one again",
                     extra={"performance": pid, "drift": found["drift"]})
        self.ctx.metrics.drift_performances.set(len(self.drifting))

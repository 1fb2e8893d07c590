"""Ownership in the facts agent: a tenant's fact is counted only for its own performances.

The facts agent holds every fact of a canonical performance (``participation.facts`` is
keyed by it), so here the worker knows what a ticket fact's own bytes cannot say: which
venues and productions the performance's calendar facts named. :class:`Ownership` keeps
that per performance in the ``facts-owners`` table (``o:<pid>`` -> ``[venues,
productions]``, a union over every calendar fact counted on it, in memory once read) and
judges each fact that carries ``streams.tenancy.TENANT_HEADER`` with
:class:`~streams.tenancy.Gate` before the fact reaches deduplication or any domain:

- accepted: counted as any fact;
- refused (tenant unknown, revoked, or registered for none of the performance's venues
  and productions): dead-lettered on ``participation.facts.dlq`` with its original bytes,
  headers and the reason, counted in ``cultuurbus_streams_tenant_refused{reason}``, never
  applied, and never in ClickHouse (the sink stores a tenant's fact only from the copy the
  facts agent writes once it counted it: ``bus.codec.ACCEPTED_MOVE``);
- only the sector's calendars say where a performance is and whose production it is
  (:data:`~streams.tenancy.SECTOR_CALENDARS`: DIP and UiTdatabank, from the shared
  topics): a venue's own page or a tenant's own description of a performance never
  widens who owns it (else a vendor could claim someone else's performance by
  publishing it under its own venue);
- the performance's venue not known yet (no calendar fact of it counted here, and no
  production of the tenant's in its DIP id): held under ``w:<pid>`` (kind, bytes, tenant,
  fact id, move) and sent to ``participation.facts`` again, under the same key and headers,
  when the first calendar fact of it is counted, to be judged then. Nothing is guessed,
  and nothing of it is in ClickHouse meanwhile (no accepted copy yet).

A held or refused fact is not marked as delivered (``facts-seen``), so its re-sent copy is
its first delivery. Cost: facts without the header pay one header look-up; a tenant's
fact a dict look-up for its tenant and one for its performance (a RocksDB read the first
time a worker meets the performance; only performances tenants send facts for are kept in
memory); a calendar fact a RocksDB read, and a write when it names a new venue or production.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from bus.log import get_logger
from bus.topics import FACTS
from streams.context import Out, StreamsContext
from streams.facts.fact import Fact
from streams.metrics import StreamsMetrics
from streams.store import JsonTable
from streams.tenancy import SECTOR_CALENDARS, Gate, NotOwned, claims_of

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["Ownership", "owners_table"]

log = get_logger("streams")

#: Most performances whose owners a worker keeps in memory; then it forgets them all.
_CACHE_MAX = 200_000
_UNREAD = object()


def owners_table(ctx: StreamsContext) -> JsonTable:
    """The ``facts-owners`` table of the worker (see the module docstring)."""
    return JsonTable(ctx.raw_table(
        "facts-owners", help="Per canonical performance (o:<id>) the venues and productions its "
                             "calendar facts named; tenants' facts held until it is known (w:<id>)."))


class Ownership:
    """The owners of each performance this worker holds, and the judging of tenants' facts.

    Args:
        table: the ``facts-owners`` table (``owners_table``; a plain mapping in tests).
        metrics: the role's metrics (refusals, held facts).
        gate: judges a tenant against the directory.
        dead_letter: ``(event, error)`` -> sends the fact to the dead letters.

    """

    def __init__(self, table: Any, metrics: StreamsMetrics, gate: Gate,
                 dead_letter: Callable[[Any, Exception], Awaitable[None]]) -> None:
        self.gate = gate
        self.dead_letter = dead_letter
        self.refused_of = metrics.tenant_refused.labels
        self.held_total = metrics.tenant_held
        self.table = table
        self.cache: dict[str, Any] = {}

    async def recovered(self) -> None:
        self.cache.clear()  # partitions may have moved: read again from the table

    def owners(self, pid: str, keep: bool = True) -> list[list[str]] | None:
        """What the calendar facts counted on ``pid`` named (None: none counted yet); kept in
        memory when ``keep`` (a performance tenants send facts for)."""
        found = self.cache.get(pid, _UNREAD)
        if found is _UNREAD:
            found = self.table.get("o:" + pid)
            if keep:
                if len(self.cache) >= _CACHE_MAX:
                    self.cache.clear()
                self.cache[pid] = found
        return found  # type: ignore[no-any-return]

    async def screen(self, pid: str, facts: list[Fact], out: list[Out]) -> list[Fact]:
        """The facts of ``pid`` (one batch, in order) that may be counted; refused ones are
        dead-lettered, held ones kept for later (call in the partition of ``pid``)."""
        owners = self.owners(pid, keep=any(f.tenant is not None for f in facts))
        gate = self.gate
        kept: list[Fact] = []
        held: list[Fact] = []
        changed = False
        for f in facts:
            if f.tenant is not None:
                try:
                    if f.kind == "performance":
                        gate.check_calendar(f.tenant, f.rec, pid)
                    ok = (owners is None and f.kind == "performance") or gate.check(
                        f.tenant, pid, None if owners is None else owners[0], owners[1] if owners else [])
                except NotOwned as exc:
                    await self._refuse(f, pid, exc)
                    continue
                if not ok:
                    held.append(f)
                    continue
            if f.kind == "performance" and not f.retract and f.tenant is None \
                    and f.rec.get("source_system") in SECTOR_CALENDARS:
                venues, productions = claims_of(f.rec)
                known = owners or [[], []]
                if owners is None or not (set(venues) <= set(known[0]) and set(productions) <= set(known[1])):
                    owners = [sorted({*known[0], *venues}), sorted({*known[1], *productions})]
                    changed = True
            kept.append(f)
        if changed:
            self.table.put("o:" + pid, owners)
            if pid in self.cache:
                self.cache[pid] = owners
        if held or changed:
            self._hold_or_release(pid, held, changed, out)
        return kept

    def _hold_or_release(self, pid: str, held: list[Fact], release: bool, out: list[Out]) -> None:
        waiting = self.table.get("w:" + pid) if release or held else None
        items: list[list[Any]] = list(waiting or [])
        ids = {item[3] for item in items}
        for f in held:
            if str(f.rec["fact_id"]) not in ids:
                ids.add(str(f.rec["fact_id"]))
                items.append([f.kind, base64.b64encode(f.event.value).decode(), f.tenant,
                              str(f.rec["fact_id"]), f.move])
                self.held_total.inc()
                log.info("tenant fact held until its performance's venue is known",
                         extra={"performance_id": pid, "tenant": f.tenant, "fact_id": f.rec["fact_id"]})
        if not release:
            self.table.put("w:" + pid, items)
            return
        if not waiting and not held:
            return
        for kind, b64, tenant, _fact_id, move in items:
            out.append((FACTS, pid, base64.b64decode(b64), kind, move, tenant))
        self.table.put("w:" + pid, [])
        log.info("held tenant facts sent again: their performance's venue is known",
                 extra={"performance_id": pid, "count": len(items)})

    async def _refuse(self, f: Fact, pid: str, exc: NotOwned) -> None:
        self.refused_of(exc.reason).inc()
        log.warning("tenant fact refused", extra={"performance_id": pid, "tenant": f.tenant,
                                                  "fact_id": f.rec.get("fact_id"), "reason": str(exc)})
        await self.dead_letter(f.event, exc)

"""The facts agent: every fact on ``participation.facts`` decoded once, applied once.

One agent reads the re-keyed facts in batches (``streams.context.batches``), decodes each
fact once, drops duplicate deliveries (``streams.store.FirstDelivery``) and hands each
performance's facts, in order, to every fact domain it is given (``streams.app`` gives it
availability, attendance and sales; last-minute follows availability). Then it writes
the first-delivery markers and publishes what the domains produced, with the table
changelog writes, in bulk (``streams.outbox``).

A fact that a re-route moved (``streams.identity.reroute``) arrives twice more: as a
retraction under the performance it was counted on, then re-sent under its new one, each
marked by the ``streams.context.MOVE_HEADER``. Each is deduplicated under its own id
(``Fact.dedup_id``: fact id ~ move), so neither is taken for a duplicate of the fact's
first delivery, and each is applied once; an ordinary fact costs one header look-up more.

A fact from a vendor tenant's ingest topic carries its tenant (``streams.tenancy``); before
deduplication the facts of such a performance go through ``streams.facts.ownership``,
which lets a tenant's fact count only for a venue or production the tenant is registered
for (a header look-up more per fact; the check only for performances with a tenant's or a
calendar fact in the batch). Each tenant's fact counted (its first delivery) is written
once more to ``participation.facts``, marked ``bus.codec.ACCEPTED_MOVE``: the ClickHouse
sink stores a tenant's fact only from that copy, so what it stores is what was counted,
in the order it was counted (a retraction's copy after the fact's own); this agent skips
the copy. A tenant's fact costs one record more; a fact without a tenant nothing.

Perf notes (issue #7; 2,000 performances, 50,000 ticket facts, one worker, a shared
2-core machine; ``py-spy`` for the profiles): before, each domain was an agent of its own
that read and decoded every fact again, kept per-fact markers and a ring of fact ids in
JSON values, and sent every record and changelog write one by one: 365 facts per
worker CPU-second, one produce request per record as the largest cost. Now ~2,500-3,000
facts per CPU-second. What remains is Faust's per-message dispatch (a bare Faust agent
that does nothing handles ~17k messages per CPU-second here, and every fact passes two
agents: identity, then this one), Avro decode/encode and RocksDB.

Issue #14 (same bench, 1,000 performances, 30,000 ticket facts, a loaded 2-core machine,
ticket facts per worker CPU-second): 1,422 before; 2,669 once Faust delivered messages
without four tasks each and the agents took batches from their queues
(``streams.delivery``); ~3,300-3,500 with raw tables on their partition's RocksDB, orjson
state and lock-free latency histograms; ~4,100 once a fact forwarded by this worker's
identity agent was no longer decoded again here (``FactCodec.remember``). Now the largest
costs are fastavro: encoding the records published (~12%: ~15 us per Availability record,
mostly its nullable unions) and decoding facts (~11%), then RocksDB (~10%) and Faust's
delivery and aiokafka's fetch (~20%).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bus.codec import ACCEPTED_MOVE, accepted_move
from bus.errors import SerializationError
from bus.topics import FACTS
from streams.context import MOVE_HEADER, Out, StreamsContext, batches, header, in_partition_of, log
from streams.facts.fact import Fact, FactDomain
from streams.facts.ownership import Ownership, owners_table
from streams.store import FirstDelivery
from streams.tenancy import REFUSED_MOVE, TENANT_HEADER, Gate

__all__ = ["define", "first_deliveries"]

AGENT = "facts"


def first_deliveries(seen: FirstDelivery, facts: list[Fact]) -> list[Fact]:
    """The first deliveries among one performance's facts (in their partition), in order.

    A re-sent fact (moved here by a re-route) also covers its plain fact id, so that a
    later plain delivery of it here is a duplicate: its first one may have been counted
    in another partition (the performance it was moved from).
    """
    first = [f for f in facts if seen.is_first(f.dedup_id, f.offset)]
    for f in first:
        if f.move is not None and not f.retract:
            seen.cover(str(f.rec["fact_id"]), f.offset)
    return first


def define(ctx: StreamsContext, domains: Sequence[FactDomain], gate: Gate) -> None:
    """Define the facts agent on ``ctx.app``; it applies each fact to ``domains``, in order,
    a tenant's fact only when ``gate`` lets it (``streams.facts.ownership``)."""
    app = ctx.app
    m = ctx.metrics
    domains = tuple(domains)
    labels = [d.agent for d in domains]
    events_of = [m.events_of(label) for label in labels]
    duplicates_of = [m.duplicates_of(label) for label in labels]
    seen = FirstDelivery(ctx.raw_table(
        "facts-seen", help="Offset on participation.facts of each fact's first delivery, by fact id."))
    decode = ctx.codec.decode_forwarded  # decoded once when this worker's identity agent forwarded it

    async def refuse(event: Any, exc: Exception) -> None:
        await ctx.dead_letter(event, exc, AGENT, "ownership")

    owners = owners_table(ctx)
    ownership = Ownership(owners, m, gate, refuse)
    owners.on_recover(ownership.recovered)

    async def handle(events: list[Any]) -> None:
        by_pid: dict[str, list[Fact]] = {}
        for event in events:
            move = header(event, MOVE_HEADER)
            if move is not None and (move.startswith(ACCEPTED_MOVE) or move == REFUSED_MOVE):
                continue  # this agent's own copy of a tenant's fact, for the sink: counted already
            try:
                pid = event.key.decode() if event.key else ""
                if not pid:
                    raise SerializationError("a fact on participation.facts without a performance id key; "
                                             "facts reach it only through the identity agents")
                kind, rec = decode(event.value)
            except Exception as exc:  # noqa: BLE001 - never stop on a record
                decoded = await ctx.decode_or_dead_letter(decode, event, exc, AGENT)
                if decoded is None:
                    continue
                kind, rec = decoded
            by_pid.setdefault(pid, []).append(Fact(kind, rec, event.message.offset, event, move,
                                                   header(event, TENANT_HEADER)))
        for counter in events_of:
            counter.inc(len(events))
        out: list[Out] = []
        for pid, facts in by_pid.items():
            in_partition_of(facts[0].event)
            if any(f.tenant is not None or f.kind == "performance" for f in facts):
                facts = await ownership.screen(pid, facts, out)
            first = first_deliveries(seen, facts)
            if len(first) < len(facts):
                for counter in duplicates_of:
                    counter.inc(len(facts) - len(first))
            if not first:
                continue
            for f in first:
                if f.tenant is not None:  # counted: now the sink may store it (bus.codec.ACCEPTED_MOVE)
                    out.append((FACTS, pid, f.event.value, f.kind, accepted_move(f.move), f.tenant))
            refused: set[int] = set()
            for domain in domains:
                try:
                    domain.apply(pid, first, out)
                except Exception as exc:  # noqa: BLE001 - find the fact, dead-letter it, go on
                    log.warning("a batch did not apply; applying its facts one by one",
                                extra={"agent": domain.agent, "performance_id": pid, "error": str(exc)[:300]})
                    await apply_one_by_one(domain, pid, first, out, refused)
            seen.save()
        await ctx.send_all(out)

    async def apply_one_by_one(domain: FactDomain, pid: str, facts: list[Fact], out: list[Out],
                               refused: set[int]) -> None:
        """Apply each fact alone (each state value records the last offset it took, so
        those already applied are not applied again) and dead-letter the ones that fail."""
        for f in facts:
            if f.offset in refused:
                continue
            try:
                domain.apply(pid, [f], out)
            except Exception as exc:  # noqa: BLE001 - this fact cannot be applied
                refused.add(f.offset)
                await ctx.dead_letter(f.event, exc, domain.agent, "apply")

    @app.agent(ctx.topic(FACTS), name="facts")
    async def facts(stream: Any) -> None:
        """Apply each fact once to availability, attendance and sales; publish the changes."""
        async for events in batches(stream):
            await handle(events)

"""The facts agent: every fact on ``participation.facts`` decoded once, applied once.

One agent reads the re-keyed facts in batches (``streams.context.batches``), decodes each
fact once, drops duplicate deliveries (``streams.store.FirstDelivery``) and hands each
performance's facts, in order, to every fact domain: availability, attendance, sales (and
through availability, last-minute). Then it writes the first-delivery markers and
publishes what the domains produced, with the table changelog writes, in bulk
(``streams.outbox``).

Perf notes (issue #7; 2,000 performances, 50,000 ticket facts, one worker, a shared
2-core machine; ``py-spy`` for the profiles): before, each domain was an agent of its own
that read and decoded every fact again, kept per-fact markers and a ring of fact ids in
JSON values, and sent every record and changelog write one by one: 365 facts per
worker CPU-second, one produce request per record as the largest cost. Now ~2,500-3,000
facts per CPU-second. What remains is Faust's per-message dispatch (a bare Faust agent
that does nothing handles ~17k messages per CPU-second here, and every fact passes two
agents: identity, then this one), Avro decode/encode and RocksDB.
"""

from __future__ import annotations

from typing import Any

from bus.errors import BusError, SerializationError
from bus.topics import FACTS
from streams.context import Out, StreamsContext, batches, in_partition_of
from streams.facts.batch import Fact
from streams.store import FirstDelivery

__all__ = ["register"]

AGENT = "facts"


def register(ctx: StreamsContext) -> None:
    app = ctx.app
    m = ctx.metrics
    domains = list(ctx.fact_domains)
    labels = [d.agent for d in domains]
    events_of = [m.events_of(label) for label in labels]
    duplicates_of = [m.duplicates_of(label) for label in labels]
    seen = FirstDelivery(ctx.raw_table(
        "facts-seen", help="Offset on participation.facts of each fact's first delivery, by fact id."))
    decode = ctx.codec.decode

    async def handle(events: list[Any]) -> None:
        by_pid: dict[str, list[Fact]] = {}
        for event in events:
            try:
                if not event.key:
                    raise SerializationError("a fact on participation.facts without a performance id key")
                kind, rec = decode(event.value)
            except BusError as exc:
                await ctx.dead_letter(event, exc, AGENT)
                continue
            by_pid.setdefault(event.key.decode(), []).append(Fact(kind, rec, event.message.offset, event))
        for counter in events_of:
            counter.inc(len(events))
        out: list[Out] = []
        for pid, facts in by_pid.items():
            in_partition_of(facts[0].event)
            first = [f for f in facts if seen.is_first(f.rec["fact_id"], f.offset)]
            if len(first) < len(facts):
                for counter in duplicates_of:
                    counter.inc(len(facts) - len(first))
            if not first:
                continue
            for domain in domains:
                domain.apply(pid, first, out)
            seen.save()
        await ctx.send_all(out)

    @app.agent(ctx.topic(FACTS), name="facts")
    async def facts(stream: Any) -> None:
        """Apply each fact once to availability, attendance and sales; publish the changes."""
        async for events in batches(stream):
            await handle(events)

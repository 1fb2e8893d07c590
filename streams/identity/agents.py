"""The identity agents: Faust's side of :class:`~streams.identity.domain.Identity`.

``identity-route`` takes ticket facts, snapshots, release requests and re-routes (a
person undid a link: ``streams.identity.reroute``); ``identity-learn`` takes calendar
facts. Both also read every vendor tenant's ingest topics of those families
(``streams.ingest``) and forward a fact from one with its tenant, taken from the topic
name only (``streams.tenancy``); a tenant's calendar fact that names none of its venues or
productions is dead-lettered before it can teach a link. Both take their topics in
batches (``streams.context.batches``), decoding each fact once, dead-lettering what
cannot be decoded or has unusable identifiers, and publishing what the batch produced
after it. A timer asks for the release of parked keys whose
performance is known now.
"""

from __future__ import annotations

import time
from typing import Any

from bus.topics import PERFORMANCES, RELEASE, SNAPSHOTS, TICKET_EVENTS
from streams.codec import KIND_HEADER
from streams.context import Out, StreamsContext, header
from streams.identity.domain import Identity
from streams.identity.reroute import REROUTE_KIND, Rerouter, parse_reroute
from streams.tenancy import Gate, NotOwned

__all__ = ["define"]


def define(ctx: StreamsContext, identity: Identity, rerouter: Rerouter, gate: Gate) -> None:
    """Define the identity agents and the release timer on ``ctx.app``; ``identity-route``
    hands re-route records (a person undid a link) to ``rerouter``; ``gate`` names the
    tenant of an ingest topic and judges a tenant's calendar facts."""
    app = ctx.app
    tenant_of = gate.tenant_of
    refused_of = ctx.metrics.tenant_refused.labels
    release_topic = ctx.name(RELEASE)
    decode, remember = ctx.codec.decode, ctx.codec.remember

    async def route_one(event: Any, out: list[Out]) -> Exception | None:
        key = event.key.decode() if event.key else ""
        if event.message.topic == release_topic:
            if header(event, KIND_HEADER) != REROUTE_KIND:
                return identity.release_requested(event, key, out, event.value)
            try:
                to, keys = parse_reroute(key, event.value)
            except Exception as exc:  # noqa: BLE001 - a bad re-route is a dead letter
                await ctx.dead_letter(event, exc, "identity-route", "decode")
                return None
            rerouter.reroute(event, key, to, keys, out)
            return None
        decoded = await ctx.decoded(decode, event, "identity-route")
        if decoded is None:
            return None
        kind, rec = decoded
        refused = identity.route(event, key, kind, rec, event.value, out, tenant_of(event.message.topic))
        if refused is None:
            remember(event.value, decoded)
        return refused

    async def learn_one(event: Any, out: list[Out]) -> Exception | None:
        decoded = await ctx.decoded(decode, event, "identity-learn")
        if decoded is None:
            return None
        kind, rec = decoded
        tenant = tenant_of(event.message.topic)
        if tenant is not None:
            try:
                gate.check_calendar(tenant, rec)
            except NotOwned as exc:
                refused_of(exc.reason).inc()
                return exc
        return identity.learn(kind, rec, event.value, out, tenant)

    @app.agent(ctx.topic(TICKET_EVENTS, SNAPSHOTS, RELEASE), name="identity-route")
    async def route(stream: Any) -> None:
        """Re-key ticket facts and snapshots to the canonical performance id, or park them."""
        await ctx.apply_batches(stream, "identity-route", route_one)

    @app.agent(ctx.topic(PERFORMANCES), name="identity-learn")
    async def learn(stream: Any) -> None:
        """Learn identifier links from calendar facts and re-key them to the canonical id."""
        await ctx.apply_batches(stream, "identity-learn", learn_one, after=identity.learned)

    @app.timer(interval=ctx.settings.streams.release_tick_s)
    async def release_parked() -> None:
        """Ask for the release of parked keys whose performance is now known, and for the
        move of source keys whose performance was named by its sector id."""
        now = time.monotonic()
        for key in identity.due_releases(now):
            await ctx.send(RELEASE, key, b"")
        for key, value in identity.due_follows(now):
            await ctx.send(RELEASE, key, value)

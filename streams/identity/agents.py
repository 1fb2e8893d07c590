"""The identity agents: Faust's side of :class:`~streams.identity.domain.Identity`.

``identity-route`` takes ticket facts, snapshots, release requests and re-routes (a
person undid a link: ``streams.identity.reroute``); ``identity-learn``
takes calendar facts; both in batches (``streams.context.batches``), decoding each fact
once, dead-lettering what cannot be decoded or has unusable identifiers, and publishing
what the batch produced after it. A timer asks for the release of parked keys whose
performance is known now.
"""

from __future__ import annotations

import time
from typing import Any

from bus.topics import PERFORMANCES, RELEASE, SNAPSHOTS, TICKET_EVENTS
from streams.codec import KIND_HEADER
from streams.context import Out, StreamsContext, batches, header
from streams.identity.domain import Identity
from streams.identity.reroute import REROUTE_KIND, Rerouter, parse_reroute

__all__ = ["define"]


def define(ctx: StreamsContext, identity: Identity, rerouter: Rerouter) -> None:
    """Define the identity agents and the release timer on ``ctx.app``; ``identity-route``
    hands re-route records (a person undid a link) to ``rerouter``."""
    app = ctx.app
    route_events = ctx.metrics.events_of("identity-route")
    learn_events = ctx.metrics.events_of("identity-learn")

    @app.agent(ctx.topic(TICKET_EVENTS, SNAPSHOTS, RELEASE), name="identity-route")
    async def route(stream: Any) -> None:
        """Re-key ticket facts and snapshots to the canonical performance id, or park them."""
        release_topic = ctx.name(RELEASE)
        decode = ctx.codec.decode
        async for events in batches(stream):
            route_events.inc(len(events))
            out: list[Out] = []
            for event in events:
                key = event.key.decode() if event.key else ""
                if event.message.topic == release_topic:
                    if header(event, KIND_HEADER) != REROUTE_KIND:
                        identity.release_requested(event, key, out)
                        continue
                    try:
                        to, keys = parse_reroute(key, event.value)
                    except Exception as exc:  # noqa: BLE001 - a bad re-route is a dead letter
                        await ctx.dead_letter(event, exc, "identity-route", "decode")
                        continue
                    rerouter.reroute(event, key, to, keys, out)
                    continue
                decoded = await ctx.decoded(decode, event, "identity-route")
                if decoded is None:
                    continue
                kind, rec = decoded
                refused = identity.route(event, key, kind, rec, event.value, out)
                if refused is not None:
                    await ctx.dead_letter(event, refused, "identity-route", "apply")
            await ctx.send_all(out)

    @app.agent(ctx.topic(PERFORMANCES), name="identity-learn")
    async def learn(stream: Any) -> None:
        """Learn identifier links from calendar facts and re-key them to the canonical id."""
        decode = ctx.codec.decode
        async for events in batches(stream):
            learn_events.inc(len(events))
            out: list[Out] = []
            for event in events:
                decoded = await ctx.decoded(decode, event, "identity-learn")
                if decoded is None:
                    continue
                kind, rec = decoded
                refused = identity.learn(kind, rec, event.value, out)
                if refused is not None:
                    await ctx.dead_letter(event, refused, "identity-learn", "apply")
            identity.learned()
            await ctx.send_all(out)

    @app.timer(interval=ctx.settings.streams.release_tick_s)
    async def release_parked() -> None:
        """Ask for the release of parked keys whose performance is now known."""
        for key in identity.due_releases(time.monotonic()):
            await ctx.send(RELEASE, key, b"")

"""The ``identity-match`` agent: Faust's side of :class:`~streams.identity.match_domain.MatchDesk`.

It reads ``streams.match`` (keyed by the local day of the start) in batches: calendar
facts no identifier links (original bytes, their kind header), notices of calendar facts
identity-learn linked by identifier (kind ``known``), and a person's decisions (kind
``decision``, from ``cultuurbus identity``). One agent instance holds each day, so the
day's descriptions are decided one at a time, in offset order, whichever worker
published them. Only the worker writes ``streams.match``, so the tenant header there
is the one identity-learn set from an ingest topic's name (``streams.tenancy``). What
cannot be used is dead-lettered with its original bytes.
"""

from __future__ import annotations

from typing import Any

from bus.topics import MATCH
from streams.codec import KIND_HEADER
from streams.context import Out, StreamsContext, header
from streams.identity.domain import KNOWN_KIND
from streams.identity.match_domain import DECISION_KIND, MatchDesk
from streams.tenancy import TENANT_HEADER

__all__ = ["define"]


def define(ctx: StreamsContext, desk: MatchDesk) -> None:
    """Define the ``identity-match`` agent on ``ctx.app``."""
    decode = ctx.codec.decode

    async def match_one(event: Any, out: list[Out]) -> Exception | None:
        day = event.key.decode() if event.key else ""
        kind = header(event, KIND_HEADER)
        if kind == DECISION_KIND:
            return desk.decision(event, day, event.value or b"", out)
        if kind == KNOWN_KIND:
            return desk.known(event, day, event.value or b"", out)
        decoded = await ctx.decoded(decode, event, "identity-match")
        if decoded is None:
            return None
        kind, rec = decoded
        return desk.fact(event, day, kind, rec, event.value, out, header(event, TENANT_HEADER))

    @ctx.app.agent(ctx.topic(MATCH), name="identity-match")
    async def match(stream: Any) -> None:
        """Decide, one day at a time, what calendar descriptions without a known identifier are."""
        await ctx.apply_batches(stream, "identity-match", match_one)

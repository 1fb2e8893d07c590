"""Identity: re-key every fact to its canonical performance id, learn the crosswalk from
calendar facts, park ticket facts of unknown performances and release them in order
when the calendar brings the performance."""

from __future__ import annotations

import base64
import time
from typing import Any

from bus.errors import BusError
from bus.topics import FACTS, IDENTITY, PERFORMANCES, RELEASE, SNAPSHOTS, TICKET_EVENTS, UNMATCHED
from streams.context import StreamsContext, log, to_ms
from streams.identity.crosswalk import keys_of

__all__ = ["register"]


def register(ctx: StreamsContext) -> None:
    app = ctx.app
    cw = ctx.crosswalk
    m = ctx.metrics
    parked = ctx.table("identity-parked", help="Facts parked per source performance key until the calendar "
                            "brings their performance; released in arrival order.")
    requested: dict[str, float] = {}

    async def forward(canonical: str, kind: str, raw: bytes) -> None:
        await ctx.send(FACTS, canonical, raw, kind)

    async def release(key: str, entry: dict[str, Any], canonical: str) -> None:
        for kind, b64, _fact_id in entry["items"]:
            await forward(canonical, kind, base64.b64decode(b64))
        m.released_total.inc(len(entry["items"]))
        del parked[key]
        requested.pop(key, None)
        log.info("released parked facts", extra={"performance_key": key, "performance_id": canonical,
                                                 "count": len(entry["items"])})

    @app.agent(ctx.topic(TICKET_EVENTS, SNAPSHOTS, RELEASE), name="identity-route")
    async def route(stream: Any) -> None:
        """Re-key ticket facts and snapshots to the canonical performance id, or park them."""
        release_topic = ctx.name(RELEASE)
        async for event in stream.events():
            m.events.labels("identity-route").inc()
            key = event.key.decode() if event.key else ""
            entry = parked.get(key) if key else None
            if event.message.topic == release_topic:
                if entry and (canonical := cw.resolve(entry["keys"])):
                    await release(key, entry, canonical)
                continue
            try:
                kind, rec = ctx.codec.decode(event.value)
            except BusError as exc:
                await ctx.dead_letter(event, exc, "identity-route")
                continue
            key = key or rec["performance_key"]
            keys = keys_of(rec)
            canonical = cw.resolve(keys)
            if canonical is None:
                entry = entry or {"keys": [], "items": []}
                entry["keys"] = sorted(set(entry["keys"]) | set(keys))
                if all(item[2] != rec["fact_id"] for item in entry["items"]):
                    entry["items"].append([kind, base64.b64encode(event.value).decode(), rec["fact_id"]])
                    m.unmatched_total.inc()
                    await ctx.send(UNMATCHED, key, event.value, kind)
                parked[key] = entry
                continue
            if entry:
                await release(key, entry, canonical)
            await forward(canonical, kind, event.value)

    @app.agent(ctx.topic(PERFORMANCES), name="identity-learn")
    async def learn(stream: Any) -> None:
        """Learn identifier links from calendar facts and re-key them to the canonical id."""
        async for event in stream.events():
            m.events.labels("identity-learn").inc()
            try:
                kind, rec = ctx.codec.decode(event.value)
            except BusError as exc:
                await ctx.dead_letter(event, exc, "identity-learn")
                continue
            keys = keys_of(rec)
            canonical, new = cw.learn(keys)
            for k in new:
                ns, value = k.split("|", 1)
                link = {"namespace": ns, "value": value, "performance_id": canonical,
                        "learned_from": rec["fact_id"], "event_time": to_ms(rec["event_time"])}
                await ctx.send(IDENTITY, k, ctx.codec.encode(IDENTITY, "identity_link.avsc", link))
            m.identity_links.set(len(cw))
            m.identity_conflicts.inc(cw.conflicts)
            cw.conflicts = 0
            await forward(canonical, kind, event.value)

    @app.timer(interval=ctx.settings.streams.release_tick_s)
    async def release_parked() -> None:
        """Ask for the release of parked keys whose performance is now known."""
        now = time.monotonic()
        count = 0
        for key, entry in list(parked.items()):
            if entry is None:
                continue
            count += len(entry["items"])
            if cw.resolve(entry["keys"]) and now - requested.get(key, 0.0) > 5.0:
                requested[key] = now
                await ctx.send(RELEASE, key, b"")
        m.unmatched.set(count)

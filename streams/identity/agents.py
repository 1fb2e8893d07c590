"""Identity: re-key every fact to its canonical performance id, learn the crosswalk from
calendar facts, park ticket facts of unknown performances and release them in order
when the calendar brings the performance.

Both agents take their topics in batches (``streams.context.batches``) and forward the
original bytes in arrival order, after the batch. Which source keys are parked is kept
in memory (rebuilt from the parked table after every rebalance), so the common path, a
fact of a known performance, never reads the table.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from bus.topics import FACTS, IDENTITY, PERFORMANCES, RELEASE, SNAPSHOTS, TICKET_EVENTS, UNMATCHED
from streams.context import Out, StreamsContext, batches, in_partition_of, log
from streams.identity.crosswalk import keys_of

__all__ = ["register"]


def register(ctx: StreamsContext) -> None:
    app = ctx.app
    cw = ctx.crosswalk
    m = ctx.metrics
    parked = ctx.table("identity-parked", help="Facts parked per source performance key until the calendar "
                            "brings their performance; released in arrival order.")
    waiting: dict[str, tuple[list[str], int]] = {}  # parked source key -> (identifier keys, facts)
    requested: dict[str, float] = {}
    route_events, learn_events = m.events_of("identity-route"), m.events_of("identity-learn")

    @parked.on_recover
    async def parked_recovered() -> None:
        waiting.clear()
        for key, entry in parked.items():
            if entry is not None:
                waiting[key] = (entry["keys"], len(entry["items"]))

    def release(key: str, entry: dict[str, Any], canonical: str, out: list[Out]) -> None:
        for kind, b64, _fact_id in entry["items"]:
            out.append((FACTS, canonical, base64.b64decode(b64), kind))
        m.released_total.inc(len(entry["items"]))
        del parked[key]
        waiting.pop(key, None)
        requested.pop(key, None)
        log.info("released parked facts", extra={"performance_key": key, "performance_id": canonical,
                                                 "count": len(entry["items"])})

    def park(event: Any, key: str, kind: str, rec: dict[str, Any], keys: list[str], out: list[Out]) -> None:
        entry = parked.get(key) or {"keys": [], "items": []}
        entry["keys"] = sorted(set(entry["keys"]) | set(keys))
        if all(item[2] != rec["fact_id"] for item in entry["items"]):
            entry["items"].append([kind, base64.b64encode(event.value).decode(), rec["fact_id"]])
            m.unmatched_total.inc()
            out.append((UNMATCHED, key, event.value, kind))
        parked[key] = entry
        waiting[key] = (entry["keys"], len(entry["items"]))

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
                    if key in waiting:
                        in_partition_of(event)
                        entry = parked.get(key)
                        if entry and (canonical := cw.resolve(entry["keys"])):
                            release(key, entry, canonical, out)
                    continue
                try:
                    kind, rec = decode(event.value)
                except Exception as exc:  # noqa: BLE001 - never stop on a record
                    decoded = await ctx.decode_or_dead_letter(decode, event, exc, "identity-route")
                    if decoded is None:
                        continue
                    kind, rec = decoded
                try:
                    key = key or rec["performance_key"]
                    keys = keys_of(rec)
                    canonical = cw.resolve(keys)
                except Exception as exc:  # noqa: BLE001 - its identifiers are unusable
                    await ctx.dead_letter(event, exc, "identity-route", "apply")
                    continue
                if canonical is None:
                    in_partition_of(event)
                    park(event, key, kind, rec, keys, out)
                    continue
                if key in waiting:
                    in_partition_of(event)
                    entry = parked.get(key)
                    if entry:
                        release(key, entry, canonical, out)
                out.append((FACTS, canonical, event.value, kind))
            await ctx.send_all(out)

    @app.agent(ctx.topic(PERFORMANCES), name="identity-learn")
    async def learn(stream: Any) -> None:
        """Learn identifier links from calendar facts and re-key them to the canonical id."""
        decode = ctx.codec.decode
        async for events in batches(stream):
            learn_events.inc(len(events))
            out: list[Out] = []
            for event in events:
                try:
                    kind, rec = decode(event.value)
                except Exception as exc:  # noqa: BLE001 - never stop on a record
                    decoded = await ctx.decode_or_dead_letter(decode, event, exc, "identity-learn")
                    if decoded is None:
                        continue
                    kind, rec = decoded
                try:
                    keys = keys_of(rec)
                except Exception as exc:  # noqa: BLE001 - its identifiers are unusable
                    await ctx.dead_letter(event, exc, "identity-learn", "apply")
                    continue
                canonical, new = cw.learn(keys)
                for k in new:
                    ns, value = k.split("|", 1)
                    link = {"namespace": ns, "value": value, "performance_id": canonical,
                            "learned_from": rec["fact_id"], "event_time": rec["event_time"]}
                    try:
                        encoded = ctx.codec.encode(IDENTITY, "identity_link.avsc", link)
                    except Exception as exc:  # noqa: BLE001 - the link is learned; it is not published
                        log.warning("identity link not published", extra={"key": k, "error": str(exc)[:300]})
                        continue
                    out.append((IDENTITY, k, encoded, None))
                out.append((FACTS, canonical, event.value, kind))
            m.identity_links.set(len(cw))
            m.identity_conflicts.inc(cw.conflicts)
            cw.conflicts = 0
            await ctx.send_all(out)

    @app.timer(interval=ctx.settings.streams.release_tick_s)
    async def release_parked() -> None:
        """Ask for the release of parked keys whose performance is now known."""
        now = time.monotonic()
        count = 0
        for key, (keys, n) in list(waiting.items()):
            count += n
            if cw.resolve(keys) and now - requested.get(key, 0.0) > 5.0:
                requested[key] = now
                await ctx.send(RELEASE, key, b"")
        m.unmatched.set(count)

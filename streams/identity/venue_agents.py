"""The venue crosswalk in the worker: evidence out of identity, one decider, links back in.

- :class:`VenueEvidence` (every worker, called by ``Identity.publish_links`` for each
  calendar fact it links to a canonical performance): sends ``(venue, performance)`` to
  ``streams.venues`` when this worker has not sent that pair before. Ticket facts never
  come here: the ticket hot path is unchanged.
- :class:`VenueDesk` and the ``identity-venues`` agent: ``streams.venues`` has ONE
  partition, so one agent instance decides every venue, in order, with
  :class:`~streams.identity.venues.VenueDecider`; its evidence is kept in the
  ``identity-venues`` table (one partition too) and the decider rebuilt from it after a
  rebalance. Changed entries go to the compacted ``participation.identity.venues``.
  Evidence that cannot be read is dead-lettered with its original bytes.
- :func:`follow_venue_links`: every worker's compacted reader also reads
  ``participation.identity.venues`` into a :class:`~streams.identity.venues.VenueCrosswalk`,
  which the matcher's ``same_venue`` asks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from typing import Any

from bus.compacted import CompactedReader, Handler, Record
from bus.log import get_logger
from bus.serde import AvroDeserializer, Registry
from bus.topics import VENUE_LINKS, VENUES, topic_name
from streams.codec import shared
from streams.context import Out, StreamsContext, in_partition_of
from streams.identity.venues import VenueCrosswalk, VenueDecider, VenueDesc

__all__ = ["EVIDENCE_KIND", "VenueDesk", "VenueEvidence", "define", "follow_venue_links", "venue_desk"]

log = get_logger("streams")

#: Kind header of venue evidence on ``streams.venues``.
EVIDENCE_KIND = "venue"
#: Most (performance, venue) pairs a worker remembers having sent; then it forgets them all
#: (sending one again is harmless: the decider ignores what it knows).
_SEEN_MAX = 200_000


class VenueEvidence:
    """Sends a calendar fact's venue and its canonical performance to ``streams.venues``, once per worker."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, ...]] = set()

    def note(self, canonical: str, rec: dict[str, Any], out: list[Out]) -> None:
        venue = rec.get("venue")
        if not venue or not venue.get("id"):
            return
        item = (shared(canonical),  # one object per text: a worker remembers ~1 item a performance
                *(shared(venue.get(k) or "") for k in ("id", "name", "city", "postcode", "country")))
        if item in self._seen:
            return
        if len(self._seen) >= _SEEN_MAX:
            self._seen.clear()
        self._seen.add(item)
        body = {"performance": canonical, "fact_id": rec.get("fact_id"),
                "venue": {k: venue.get(k) for k in ("id", "name", "city", "postcode", "country")}}
        out.append((VENUES, str(venue["id"]), json.dumps(body).encode(), EVIDENCE_KIND))


class VenueDesk:
    """What the ``identity-venues`` agent does with each evidence record.

    Table keys: ``v|<venue id>`` -> the venue's descriptions (lists of name, city,
    postcode, country); ``p|<performance id>`` -> the venue ids its descriptions name;
    ``x|<venue id>|<venue id>`` (the pair sorted) -> a person's last decision on the pair,
    ``[action, by, id, id]`` with action ``accept`` or ``reject`` (``undo`` keeps a reject
    per pair it takes apart).

    Args:
        table: the agent's table (or any mapping, in tests).
        encode: a VenueLink record -> its bytes for ``participation.identity.venues``.
        now_ms: the time of an entry (UTC ms).
        decider: the rules (default thresholds when None).
        in_partition_of: called with the event before the table is read or written.

    """

    def __init__(self, table: MutableMapping[str, Any], encode: Callable[[dict[str, Any]], bytes],
                 now_ms: Callable[[], int], decider: VenueDecider | None = None,
                 in_partition_of: Callable[[Any], None] = lambda _e: None) -> None:
        self.table = table
        self.encode = encode
        self.now_ms = now_ms
        self.decider = decider or VenueDecider()
        self.in_partition_of = in_partition_of
        self.published: dict[str, dict[str, Any]] = {}
        #: after a rebalance, every entry is published again with the next evidence: what the
        #: table kept may not have reached the topic before a crash (the topic is compacted)
        self.resend = False

    async def recovered(self) -> None:
        """Rebuild the decider from the table (after a rebalance)."""
        self.decider = VenueDecider(link_at=self.decider.link_at, review_at=self.decider.review_at)
        items = sorted((k, v) for k, v in self.table.items() if v is not None)
        decided = [value for key, value in items if key.startswith("x|")]  # [action, by, a, b]
        for action, _by, a, b in decided:  # refusals first: no evidence joins a refused pair
            if action == "reject":
                self.decider.refused.add(frozenset((a, b)))
        for key, value in items:
            if key.startswith("v|"):
                for d in value:
                    self.decider.describe(VenueDesc(key[2:], *d))
        for key, value in items:
            if key.startswith("p|"):
                for vid in value:
                    self.decider.host(key[2:], vid)
        for action, by, a, b in decided:
            if action == "accept":
                self.decider.decide("accept", a, b, by)
        self.published.clear()
        self.resend = True

    def evidence(self, event: Any, body: bytes, out: list[Out]) -> Exception | None:
        """One evidence record: remember it, decide, publish the entries that changed."""
        try:
            asked = json.loads(body)
            if "decision" in asked:
                return self._decision(event, asked["decision"], out)
            desc = VenueDesc.of(asked["venue"])
            performance = str(asked["performance"])
        except Exception as exc:  # noqa: BLE001 - unusable evidence is a dead letter
            return exc
        self.in_partition_of(event)
        touched = self.decider.describe(desc)
        if touched:
            vkey = f"v|{desc.id}"
            self.table[vkey] = [*(self.table.get(vkey) or []), list(desc[1:])]
        hosted = self.table.get(f"p|{performance}") or []
        if desc.id not in hosted:
            self.table[f"p|{performance}"] = [*hosted, desc.id]
            touched |= self.decider.host(performance, desc.id)
        if self.resend:
            touched |= set(self.decider.descs)
            self.resend = False
        for vid in sorted(touched):
            self._publish(vid, out)
        return None

    def _decision(self, event: Any, decision: dict[str, Any], out: list[Out]) -> Exception | None:
        """A person's decision (``cultuurbus identity venue-accept|venue-reject|venue-undo``):
        kept per pair, applied, and what changed published; a bad one is a dead letter."""
        action, a, b = decision["action"], str(decision["a"]), decision.get("b")
        by = str(decision.get("by") or "someone")
        self.in_partition_of(event)
        touched, pairs = self.decider.decide(action, a, None if b is None else str(b), by)
        for x, y in pairs:
            lo, hi = sorted((x, y))
            self.table[f"x|{lo}|{hi}"] = ["accept" if action == "accept" else "reject", by, lo, hi]
        for vid in sorted(touched):
            self._publish(vid, out)
        log.info("venue decision applied", extra={"action": action, "venue_id": a, "other": b, "by": by,
                                                  "pairs": len(pairs)})
        return None

    def _publish(self, venue_id: str, out: list[Out]) -> None:
        entry = self.decider.entry(venue_id)
        if self.published.get(venue_id) == entry:
            return
        self.published[venue_id] = entry
        try:
            out.append((VENUE_LINKS, venue_id, self.encode({**entry, "updated_at": self.now_ms()}), None))
        except Exception as exc:  # noqa: BLE001 - decided and kept; published on its next change
            self.published.pop(venue_id, None)
            log.warning("venue link not published", extra={"venue_id": venue_id, "error": str(exc)[:300]})
            return
        log.info("venue linked", extra={"venue_id": venue_id, "canonical_venue": entry["canonical_id"],
                                        "why": entry["reason"], "score": entry["score"],
                                        "performance_id": entry["evidence"]})


def define(ctx: StreamsContext, desk: VenueDesk) -> None:
    """Define the ``identity-venues`` agent on ``ctx.app``."""
    async def evidence_of(event: Any, out: list[Out]) -> Exception | None:
        return desk.evidence(event, event.value or b"", out)

    @ctx.app.agent(ctx.topic(VENUES), name="identity-venues")
    async def venues(stream: Any) -> None:
        """Decide, one evidence at a time, which venue ids are one venue."""
        await ctx.apply_batches(stream, "identity-venues", evidence_of)


def venue_desk(ctx: StreamsContext, now_ms: Callable[[], int]) -> VenueDesk:
    """The desk with its one-partition table (recovered on every assignment)."""
    table = ctx.table("identity-venues", partitions=1,
                      help="Venue evidence: descriptions (v|venue id) and the venues each canonical "
                      "performance names (p|performance id), decided by identity-venues.")
    desk = VenueDesk(table, lambda link: ctx.codec.encode(VENUE_LINKS, "venue_link.avsc", link), now_ms,
                     in_partition_of=in_partition_of)
    table.on_recover(desk.recovered)
    return desk


def follow_venue_links(reader: CompactedReader, settings_prefix: str, registry: Registry,
                       crosswalk: VenueCrosswalk) -> None:
    """Make ``reader`` (the worker's crosswalk reader, not started yet) also read the venue
    topic into ``crosswalk``."""

    def apply(rec: Record) -> str:
        if rec.key is None:
            raise ValueError("venue link without a key; the key must be the venue id")
        if rec.value is None:
            return "tombstone"
        crosswalk.put(rec.key.decode(), str(rec.value["canonical_id"]))
        return "applied"

    reader.handlers[topic_name(VENUE_LINKS, settings_prefix)] = Handler(
        VENUE_LINKS, AvroDeserializer(registry, "venue_link.avsc"), apply)

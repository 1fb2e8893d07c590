"""Identity: re-key every fact to its canonical performance id, learn the crosswalk from
calendar facts, park ticket facts of unknown performances and release them in order
when the calendar brings the performance.

Plain logic on decoded facts, without Faust: the agents (``streams.identity.agents``)
decode, dead-letter and publish. Which source keys are parked is kept in memory (rebuilt
from the parked table after every rebalance), so the common path, a fact of a known
performance, never reads the table.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from bus.log import get_logger
from bus.topics import FACTS, IDENTITY, UNMATCHED
from streams.identity.crosswalk import Crosswalk, keys_of
from streams.metrics import StreamsMetrics

if TYPE_CHECKING:
    from streams.context import Out

__all__ = ["RELEASE_EVERY_S", "Identity"]

log = get_logger("streams")

#: Least time between two release requests for one parked key.
RELEASE_EVERY_S = 5.0


class Identity:
    """Routes facts to their canonical performance id, parks the unknown, learns links.

    Every method adds what to publish to ``out``: ``(topic, key, value, kind)`` with the
    original fact bytes, in arrival order.

    Args:
        crosswalk: identifier key -> canonical id (every worker's view of the identity topic).
        parked: the parked-facts table: source key -> ``{"keys": [...], "items": [[kind,
            base64 bytes, fact id], ...]}``.
        metrics: the role's metrics (parked, released, links, conflicts).
        encode_link: an IdentityLink record -> its bytes for the identity topic.
        in_partition_of: called with a fact's event before ``parked`` is read or written
            (the table partition of that event; nothing for a plain mapping).

    """

    def __init__(self, crosswalk: Crosswalk, parked: MutableMapping[str, Any], metrics: StreamsMetrics,
                 encode_link: Callable[[dict[str, Any]], bytes],
                 in_partition_of: Callable[[Any], None] = lambda _event: None) -> None:
        self.crosswalk = crosswalk
        self.parked = parked
        self.metrics = metrics
        self.encode_link = encode_link
        self.in_partition_of = in_partition_of
        #: parked source key -> (identifier keys, facts parked)
        self.waiting: dict[str, tuple[list[str], int]] = {}
        self.requested: dict[str, float] = {}

    async def recovered(self) -> None:
        """Rebuild which keys are parked from the table (after a rebalance)."""
        self.waiting.clear()
        for key, entry in self.parked.items():
            if entry is not None:
                self.waiting[key] = (entry["keys"], len(entry["items"]))

    def route(self, event: Any, key: str, kind: str, rec: dict[str, Any], raw: bytes,
              out: list[Out]) -> Exception | None:
        """A ticket fact or snapshot: forward it under its canonical id, or park it.

        Args:
            event: the fact's event (for ``in_partition_of``).
            key: its Kafka key, the source performance key ("" when it had none).
            kind: its kind header.
            rec: the decoded fact.
            raw: its bytes, forwarded as they came.
            out: where records to publish go.

        Returns:
            the error that makes the fact's identifiers unusable (dead-letter it), else None.

        """
        cw = self.crosswalk
        try:
            key = key or rec["performance_key"]
            keys = keys_of(rec)
            canonical = cw.resolve(keys)
        except Exception as exc:  # noqa: BLE001 - its identifiers are unusable
            return exc
        if canonical is None:
            self.in_partition_of(event)
            self._park(key, kind, rec, raw, keys, out)
            return None
        if key in self.waiting:
            self.in_partition_of(event)
            entry = self.parked.get(key)
            if entry:
                self._release(key, entry, canonical, out)
        out.append((FACTS, canonical, raw, kind))
        return None

    def release_requested(self, event: Any, key: str, out: list[Out]) -> None:
        """A release request (``participation.release``) for ``key``: release its parked
        facts if their performance is known now."""
        if key in self.waiting:
            self.in_partition_of(event)
            entry = self.parked.get(key)
            if entry and (canonical := self.crosswalk.resolve(entry["keys"])):
                self._release(key, entry, canonical, out)

    def learn(self, kind: str, rec: dict[str, Any], raw: bytes, out: list[Out]) -> Exception | None:
        """A calendar fact: learn its identifier links, publish the new ones, forward it.

        Returns:
            the error that makes the fact's identifiers unusable (dead-letter it), else None.

        """
        try:
            keys = keys_of(rec)
        except Exception as exc:  # noqa: BLE001 - its identifiers are unusable
            return exc
        canonical, new = self.crosswalk.learn(keys)
        for k in new:
            ns, value = k.split("|", 1)
            link = {"namespace": ns, "value": value, "performance_id": canonical,
                    "learned_from": rec["fact_id"], "event_time": rec["event_time"]}
            try:
                encoded = self.encode_link(link)
            except Exception as exc:  # noqa: BLE001 - the link is learned; it is not published
                log.warning("identity link not published", extra={"key": k, "error": str(exc)[:300]})
                continue
            out.append((IDENTITY, k, encoded, None))
        out.append((FACTS, canonical, raw, kind))
        return None

    def learned(self) -> None:
        """After a batch of calendar facts: count the links and the conflicts met since."""
        cw = self.crosswalk
        self.metrics.identity_links.set(len(cw))
        self.metrics.identity_conflicts.inc(cw.conflicts)
        cw.conflicts = 0

    def due_releases(self, now: float) -> list[str]:
        """Parked keys whose performance is known now and whose release was not asked for
        in the last ``RELEASE_EVERY_S`` (``now``: monotonic seconds); counts what is parked."""
        due = []
        count = 0
        for key, (keys, n) in list(self.waiting.items()):
            count += n
            if self.crosswalk.resolve(keys) and now - self.requested.get(key, 0.0) > RELEASE_EVERY_S:
                self.requested[key] = now
                due.append(key)
        self.metrics.unmatched.set(count)
        return due

    def _release(self, key: str, entry: dict[str, Any], canonical: str, out: list[Out]) -> None:
        for kind, b64, _fact_id in entry["items"]:
            out.append((FACTS, canonical, base64.b64decode(b64), kind))
        self.metrics.released_total.inc(len(entry["items"]))
        del self.parked[key]
        self.waiting.pop(key, None)
        self.requested.pop(key, None)
        log.info("released parked facts", extra={"performance_key": key, "performance_id": canonical,
                                                 "count": len(entry["items"])})

    def _park(self, key: str, kind: str, rec: dict[str, Any], raw: bytes, keys: list[str],
              out: list[Out]) -> None:
        entry = self.parked.get(key) or {"keys": [], "items": []}
        entry["keys"] = sorted(set(entry["keys"]) | set(keys))
        if all(item[2] != rec["fact_id"] for item in entry["items"]):
            entry["items"].append([kind, base64.b64encode(raw).decode(), rec["fact_id"]])
            self.metrics.unmatched_total.inc()
            out.append((UNMATCHED, key, raw, kind))
        self.parked[key] = entry
        self.waiting[key] = (entry["keys"], len(entry["items"]))

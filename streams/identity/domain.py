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
import json
import time
from collections.abc import Callable, Iterator, MutableMapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bus.errors import SerializationError
from bus.localtime import LOCAL_TZ
from bus.log import get_logger
from bus.topics import FACTS, IDENTITY, MATCH, RELEASE, UNMATCHED
from streams.identity.crosswalk import Crosswalk, is_sector, keys_of
from streams.identity.reroute import REROUTE_KIND
from streams.metrics import StreamsMetrics
from streams.tenancy import fact_out

if TYPE_CHECKING:
    from streams.context import Out

__all__ = ["CHUNK", "KNOWN_KIND", "PARKED_LAYOUT", "RELEASE_EVERY_S", "Identity", "Rerouter", "day_of"]

log = get_logger("streams")

#: Least time between two release requests for one parked key.
RELEASE_EVERY_S = 5.0
#: Most fact ids in one chunk of a parked key's list.
CHUNK = 64
#: The ``identity-parked`` table, co-partitioned with the source key. A fact is parked
#: in a record of its own and a key's list is kept in chunks, so parking one rewrites a
#: short list, not every fact the key holds: a popular show on sale for hours before the
#: calendar names it, or a worker catching up on a backlog whose calendar comes after
#: its tickets, parks thousands of facts per key, and one growing record per key was
#: rewritten whole (and sent to the changelog whole) for every one of them.
PARKED_LAYOUT = """
- ``<key>``: ``{"keys": [identifier keys], "n": chunks}`` (a dict: the only values that
  are), written when a chunk starts or the keys grow, so parking a fact writes two records
  (its chunk and itself), three when it starts a chunk; ``{"keys": ..., "items": [...]}``
  from before chunks is read too, and a ``"count"`` written by session 13's version is
  left out (the count comes from the chunks)
- ``c:<key>#<j>``: the ids of chunk ``j``'s facts, at most ``CHUNK``, in arrival order
- ``f:<key>|<id>``: ``[kind, base64 bytes, fact id(, tenant)]``: the tenant whose ingest
  topic it came from, when it did (``streams.tenancy``); ``<id>`` is the fact id, with
  the tenant after a unit separator (one copy per fact id and sender)
"""
#: Kind header of a calendar fact whose performance is known, told to ``streams.match``.
KNOWN_KIND = "known"


def day_of(start_ms: int) -> str:
    """The local calendar day (Europe/Amsterdam) of a start: the key on ``streams.match``."""
    return datetime.fromtimestamp(start_ms / 1000, UTC).astimezone(LOCAL_TZ).strftime("%Y-%m-%d")


class Rerouter(Protocol):
    """Remembers facts forwarded under a link a person may undo (helper of the undo's re-route)."""

    def record(self, event: Any, key: str, canonical: str, kind: str, raw: bytes, fact_id: str,
               tenant: str | None = None) -> str: ...


class Identity:
    """Routes facts to their canonical performance id, parks the unknown, learns links.

    Every method adds what to publish to ``out``: ``(topic, key, value, kind)`` with the
    original fact bytes, in arrival order.

    Args:
        crosswalk: identifier key -> canonical id (every worker's view of the identity topic).
        parked: the parked-facts table (layout: :data:`PARKED_LAYOUT`).
        metrics: the role's metrics (parked, released, links, conflicts).
        encode_link: an IdentityLink record -> its bytes for the identity topic.
        in_partition_of: called with a fact's event before ``parked`` is read or written
            (the table partition of that event; nothing for a plain mapping).
        rerouter: told of every fact forwarded under a link made by matching or a person
            (one that can be undone); None: nobody is.
        venue_evidence: told ``(canonical, calendar fact, out)`` of every calendar fact
            linked to a performance (the venue crosswalk); None: nobody is.

    """

    def __init__(self, crosswalk: Crosswalk, parked: MutableMapping[str, Any], metrics: StreamsMetrics,
                 encode_link: Callable[[dict[str, Any]], bytes],
                 in_partition_of: Callable[[Any], None] = lambda _event: None,
                 rerouter: Rerouter | None = None,
                 venue_evidence: Callable[[str, dict[str, Any], list[Out]], None] | None = None) -> None:
        self.rerouter = rerouter
        self.venue_evidence = venue_evidence
        self.crosswalk = crosswalk
        self.parked = parked
        self.metrics = metrics
        self.encode_link = encode_link
        self.in_partition_of = in_partition_of
        #: parked source key -> (identifier keys, facts parked)
        self.waiting: dict[str, tuple[list[str], int]] = {}
        self.requested: dict[str, float] = {}
        #: source key routed under a performance founded without a sector id -> (its keys, last fact id)
        self.adopted: dict[str, tuple[list[str], str]] = {}

    async def recovered(self) -> None:
        """Rebuild which keys are parked from the table (after a rebalance)."""
        self.waiting.clear()
        for key, entry in self.parked.items():
            if isinstance(entry, dict):  # a key's head; chunks and facts are lists
                self.waiting[key] = (entry["keys"], self._count(key, entry))

    def route(self, event: Any, key: str, kind: str, rec: dict[str, Any], raw: bytes,
              out: list[Out], tenant: str | None = None) -> Exception | None:
        """A ticket fact or snapshot: forward it under its canonical id, or park it.

        Args:
            event: the fact's event (for ``in_partition_of``).
            key: its Kafka key, the source performance key ("" when it had none).
            kind: its kind header.
            rec: the decoded fact.
            raw: its bytes, forwarded as they came.
            out: where records to publish go.
            tenant: the tenant whose ingest topic it came from (None: a shared topic); it
                goes with the fact wherever it goes.

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
            self._park(key, kind, rec, raw, keys, out, tenant)
            return None
        self._adopt(key, keys, canonical, rec["fact_id"], rec.get("event_time"), out)
        if key in cw.undoable:
            self._follow(key, keys, rec["fact_id"], out)
        if key in self.waiting:
            self.in_partition_of(event)
            entry = self.parked.get(key)
            if entry:
                self._release(key, entry, canonical, out, event)
        if self.rerouter is not None and key in cw.undoable:  # where its first forwarding counted it
            canonical = _record(self.rerouter, event, key, canonical, kind, raw, rec["fact_id"], tenant)
        out.append(fact_out(FACTS, canonical, raw, kind, tenant))
        return None

    def release_requested(self, event: Any, key: str, out: list[Out],
                          value: bytes | None = b"") -> Exception | None:
        """A request on ``streams.release`` for ``key``: an empty one releases its parked
        facts if their performance is known now; ``{"follow": [identifier keys], "fact_id":
        ...}`` (:meth:`due_follows`) moves a source key to its performance's sector id.

        Returns:
            the error of a request that is neither (dead-letter it), else None.

        """
        if value:
            try:
                doc = json.loads(value)
                keys, fact_id = [str(k) for k in doc["follow"]], str(doc["fact_id"])
            except (ValueError, TypeError, KeyError) as exc:
                return SerializationError(f"a request on streams.release for {key!r} is neither empty nor "
                                          f"{{\"follow\": [keys], \"fact_id\": id}}: {exc}")
            self._follow(key, keys, fact_id, out)
            return None
        if key in self.waiting:
            self.in_partition_of(event)
            entry = self.parked.get(key)
            if entry and (canonical := self.crosswalk.resolve(entry["keys"])):
                self._release(key, entry, canonical, out, event)
        return None

    def learn(self, kind: str, rec: dict[str, Any], raw: bytes, out: list[Out],
              tenant: str | None = None) -> Exception | None:
        """A calendar fact: if an identifier of it is known, learn its other identifiers'
        links, publish the new ones and forward it; else hand it to matching
        (``streams.match``, keyed by its local day), which decides one day at a time.

        Returns:
            the error that makes the fact's identifiers unusable (dead-letter it), else None.

        """
        try:
            keys = keys_of(rec)
            day = day_of(int(rec["start"]))
        except Exception as exc:  # noqa: BLE001 - its identifiers are unusable
            return exc
        canonical = self.crosswalk.resolve(keys)
        if canonical is None:
            out.append(fact_out(MATCH, day, raw, kind, tenant))
            return None
        _canonical, new = self.crosswalk.learn(keys)
        self.publish_links(new, canonical, rec, out)
        out.append(fact_out(FACTS, canonical, raw, kind, tenant))
        known = {"canonical": canonical, "kind": kind, "fact": base64.b64encode(raw).decode()}
        if tenant is not None:
            known["tenant"] = tenant
        out.append((MATCH, day, json.dumps(known).encode(), KNOWN_KIND))
        return None

    def publish_links(self, keys: list[str], canonical: str, rec: dict[str, Any], out: list[Out],
                      reason: str = "identifier", score: float | None = None,
                      decided_by: str | None = None) -> None:
        """Publish IdentityLinks ``keys`` -> ``canonical``, taught by fact ``rec``, and why."""
        if self.venue_evidence is not None:
            self.venue_evidence(canonical, rec, out)
        for k in keys:
            self.publish_link(k, canonical, rec["fact_id"], rec["event_time"], reason, score, decided_by,
                               out)

    def publish_link(self, key: str, canonical: str, fact_id: str, event_time: int, reason: str,
                      score: float | None, decided_by: str | None, out: list[Out]) -> None:
        ns, value = key.split("|", 1)
        link = {"namespace": ns, "value": value, "performance_id": canonical, "learned_from": fact_id,
                "event_time": event_time, "reason": reason, "score": score, "decided_by": decided_by}
        try:
            out.append((IDENTITY, key, self.encode_link(link), None))
        except Exception as exc:  # noqa: BLE001 - the link is learned; it is not published
            log.warning("identity link not published", extra={"key": key, "error": str(exc)[:300]})

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

    def due_follows(self, now: float) -> list[tuple[str, bytes]]:
        """Requests (key, value on ``streams.release``) to move keys to their performance's
        sector id (:meth:`_follow`, for keys with no fact since); one per ``RELEASE_EVERY_S``."""
        due = []
        for key, (keys, fact_id) in list(self.adopted.items()):
            if self._renamed_to(key, keys) and now - self.requested.get(key, 0.0) > RELEASE_EVERY_S:
                self.requested[key] = now
                due.append((key, json.dumps({"follow": keys, "fact_id": fact_id}).encode()))
        return due

    def _renamed_to(self, key: str, keys: list[str]) -> str | None:
        """The sector id ``keys`` name while ``key`` names a performance founded without one."""
        cw = self.crosswalk
        own = cw.get(key)
        if own is None or is_sector(own):
            self.adopted.pop(key, None)
            return None
        to = cw.resolve([k for k in keys if k != key])
        return to if to is not None and to != own and is_sector(to) else None

    def _follow(self, key: str, keys: list[str], fact_id: str, out: list[Out]) -> None:
        """A key adopted under a performance founded without a sector id (``_adopt``) follows
        its rename. The renaming match desk re-routes the keys its own crosswalk links to it;
        a key another worker adopted (its link not read there yet) is moved by the worker
        routing it: linked, published, its facts re-routed (done twice, it moves nothing)."""
        cw = self.crosswalk
        own = cw.get(key)
        to = self._renamed_to(key, keys)
        if to is None:
            if own is not None and not is_sector(own):
                self.adopted[key] = (keys, fact_id)
            return
        self.adopted.pop(key, None)
        self.requested.pop(key, None)
        cw.put(key, to, "match")
        self.publish_link(key, to, fact_id, int(time.time() * 1000), "match", None, "matcher", out)
        out.append((RELEASE, key, json.dumps({"to": to, "keys": [key]}).encode(), REROUTE_KIND))
        log.info("source key follows its performance's sector id",
                 extra={"performance_key": key, "performance_id": to, "from": own})

    def _adopt(self, key: str, keys: list[str], canonical: str, fact_id: str, event_time: int | None,
               out: list[Out]) -> None:
        """A source key no description names (Eventbrite's account-scoped event key beside the
        global id a shop link gives), routed by a link that may move (``Crosswalk.undoable``):
        link it as that one is, so its facts are kept for the move and a rename or undo of
        its performance re-routes it too (``MatchDesk``)."""
        cw = self.crosswalk
        if cw.get(key) is not None:
            return
        reason = next((cw.undoable[k] for k in keys if k in cw.undoable), None)
        if reason is None:
            return
        cw.put(key, canonical, reason)
        at = int(event_time or time.time() * 1000)
        self.publish_link(key, canonical, fact_id, at, reason, None, None, out)

    def _release(self, key: str, entry: dict[str, Any], canonical: str, out: list[Out], event: Any) -> None:
        held = list(self._items(key, entry))
        items = [item for _, item in held]
        if items:
            self._adopt(key, entry["keys"], canonical, items[0][2], None, out)
        rerouter = self.rerouter if key in self.crosswalk.undoable else None
        for item in items:
            kind, b64, fact_id = item[:3]
            tenant = item[3] if len(item) > 3 else None
            raw = base64.b64decode(b64)
            to = (canonical if rerouter is None
                  else _record(rerouter, event, key, canonical, kind, raw, fact_id, tenant))
            out.append(fact_out(FACTS, to, raw, kind, tenant))
        self.metrics.released_total.inc(len(items))
        self._forget(key, entry, [item_id for item_id, _ in held if item_id is not None])
        self.waiting.pop(key, None)
        self.requested.pop(key, None)
        log.info("released parked facts", extra={"performance_key": key, "performance_id": canonical,
                                                 "count": len(items)})

    def _items(self, key: str, entry: dict[str, Any]) -> Iterator[tuple[str | None, list[Any]]]:
        """The parked facts of ``key``, in arrival order, each with its id (None: one of a
        head from before chunks)."""
        for item in entry.get("items", ()):  # parked before chunks
            yield None, item
        seen: set[str] = set()
        for j in range(entry.get("n", 0)):
            for item_id in self.parked.get(f"c:{key}#{j}") or ():
                if item_id not in seen:  # listed twice when a crash came between two writes
                    seen.add(item_id)
                    item = self.parked.get(f"f:{key}|{item_id}")
                    if item is not None:
                        yield item_id, item

    def _forget(self, key: str, entry: dict[str, Any], ids: list[str]) -> None:
        """Delete the key's head, its chunks and its facts (``ids``: those ``_items`` read)."""
        parked = self.parked
        for item_id in ids:
            del parked[f"f:{key}|{item_id}"]
        for j in range(entry.get("n", 0)):
            if f"c:{key}#{j}" in parked:
                del parked[f"c:{key}#{j}"]
        del parked[key]

    def _park(self, key: str, kind: str, rec: dict[str, Any], raw: bytes, keys: list[str],
              out: list[Out], tenant: str | None = None) -> None:
        parked = self.parked
        stored = parked.get(key)
        head = {k: v for k, v in (stored or {"n": 0}).items() if k != "count"}  # count: see _count
        head["keys"] = sorted(set(head.get("keys", ())) | set(keys))
        grown = stored is None or head["keys"] != stored["keys"]
        count = self.waiting[key][1] if key in self.waiting else self._count(key, head)
        fact_id = rec["fact_id"]
        item_id = fact_id if tenant is None else f"{fact_id}\x1f{tenant}"
        # one copy per fact id and sender: another tenant's fact under the same id parks beside it
        if parked.get(f"f:{key}|{item_id}") is None and not any(
                item[2] == fact_id and (item[3] if len(item) > 3 else None) == tenant
                for item in head.get("items", ())):
            n = head.get("n", 0)
            chunk = parked.get(f"c:{key}#{n - 1}") if n else None
            if n == 0 or (chunk is not None and len(chunk) >= CHUNK):
                chunk, n = [], n + 1
                # the head first, so it never lists fewer chunks than there are, whichever
                # write a crash comes after (a fact delivered again finds itself parked)
                head["n"] = n
                parked[key] = head
                grown = False
            # the list before the fact: after a crash between them the fact is parked again
            parked[f"c:{key}#{n - 1}"] = [*(chunk or ()), item_id]
            item = [kind, base64.b64encode(raw).decode(), fact_id]
            parked[f"f:{key}|{item_id}"] = item if tenant is None else [*item, tenant]
            count += 1
            self.metrics.unmatched_total.inc()
            out.append(fact_out(UNMATCHED, key, raw, kind, tenant))
        if grown:  # a head is written only when a chunk starts or its keys grow
            parked[key] = head
        self.waiting[key] = (head["keys"], count)

    def _count(self, key: str, head: dict[str, Any]) -> int:
        """Facts parked under a key's head (either layout), from its chunks: the head keeps
        no count, which would be one more write for every fact parked."""
        listed = sum(len(set(self.parked.get(f"c:{key}#{j}") or ())) for j in range(head.get("n", 0)))
        return listed + len(head.get("items", ()))


def _record(rerouter: Rerouter, event: Any, key: str, canonical: str, kind: str, raw: bytes, fact_id: str,
            tenant: str | None) -> str:
    """``rerouter.record``, told the fact's tenant when it has one."""
    if tenant is None:
        return rerouter.record(event, key, canonical, kind, raw, fact_id)
    return rerouter.record(event, key, canonical, kind, raw, fact_id, tenant)

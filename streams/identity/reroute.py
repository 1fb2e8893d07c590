"""Re-routing: when a person undoes a link, the facts counted under it move to the right
performance.

A ticket fact or snapshot forwarded under a link a person could undo (a match, or a
person's own decision) is kept here, by its source performance key, as it was forwarded.
A re-route record on ``streams.release`` (``REROUTE_KIND``, JSON ``{"to": ..., "keys":
[...]}``, keyed by the source key whose link was undone) then moves every kept fact of
that key that is not on ``to`` yet: a RETRACTION of it keyed by the performance it was
counted on, then the fact itself keyed by ``to``, both marked with
``streams.context.MOVE_HEADER`` so the facts agent applies each once (see
``streams.facts.agents``). The fact's generation counts its moves (0 as first
forwarded): the retraction of generation ``n`` is ``retract/<n>``, the re-send is
generation ``n + 1``, so every delivery has its own deduplication id however often a
fact goes back and forth.

Exactly once, with the facts agent: a re-route record delivered again after a crash (the
same offset as the last one applied) says its moves again, which the facts agent drops
as duplicates where they arrived; an older re-route replayed (a lower offset) changes
nothing; the same re-route published twice finds every fact on ``to`` already.

Table (``identity-routed``, JSON values, co-partitioned with the source key):

- ``i:<key>``: ``{"n": chunks, "at": offset on streams.release of the last re-route applied}``
- ``c:<key>#<j>``: the fact ids of chunk ``j``, at most ``CHUNK`` (so recording a fact
  rewrites a short list, not every id the key ever had)
- ``f:<key>|<fact id>``: ``[kind, base64 bytes, canonical, generation, previous canonical,
  offset of the re-route that moved it(, tenant)]``: the tenant whose ingest topic the fact
  came from, when it did; its moves carry it on (``streams.tenancy``)

The same moves rename a performance that a description without a sector id founded once
a description with a DIP or UiT id is matched to it (``MatchDesk``): facts routed under
such a founding link are kept too (``Crosswalk.undoable``).

Cost: only facts routed by match or person links, or by a link founded without a sector
id, are kept. Per fact, its bytes in base64
(4/3 of the Avro record, ~300-600 bytes for a ticket fact) plus ~150 bytes (ids, canonical
ids, generation) in RocksDB and on the table's compacted changelog, and ~45 bytes in its
chunk; recording one costs three table reads and two or three writes, once per fact id.

The crosswalk entry this worker puts for the re-routed keys bridges only until its
identity reader brings the link the undo published on ``participation.identity``, which
is what every worker keeps.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

from bus.errors import SerializationError
from bus.log import get_logger
from bus.topics import FACTS
from streams.context import Out
from streams.identity.crosswalk import Crosswalk
from streams.tenancy import fact_out

__all__ = ["CHUNK", "REROUTE_KIND", "Rerouter", "parse_reroute"]

log = get_logger("streams")

#: Kind header (``streams.codec.KIND_HEADER``) of a re-route record on ``streams.release``.
REROUTE_KIND = "reroute"
#: Most fact ids in one chunk of a key's list.
CHUNK = 64


def parse_reroute(key: str, value: bytes | None) -> tuple[str, list[str]]:
    """The performance to move to and the identifier keys that now point at it.

    Raises:
        SerializationError: the key is empty, or the value is not ``{"to": "<canonical id>",
            "keys": ["ns|value", ...]}``.

    """
    what = ('a re-route record on streams.release must be keyed by the source performance key and be JSON '
            '{"to": "<canonical performance id>", "keys": ["<namespace|value>", ...]}')
    if not key:
        raise SerializationError(f"{what}; this one has no key")
    try:
        doc = json.loads(value or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise SerializationError(f"{what}; this one is not JSON ({exc}). Publish it again with "
                                 "`cultuurbus identity undo`.") from exc
    if not isinstance(doc, dict):
        raise SerializationError(f"{what}; this one is a JSON {type(doc).__name__}")
    to, keys = doc.get("to"), doc.get("keys")
    if not isinstance(to, str) or not to:
        raise SerializationError(f"{what}; its \"to\" is {to!r}")
    if not isinstance(keys, list) or not all(isinstance(k, str) and "|" in k for k in keys):
        raise SerializationError(f"{what}; its \"keys\" is {keys!r}")
    return to, keys


class Rerouter:
    """Keeps the facts routed under links a person could undo, and moves them.

    Args:
        crosswalk: this worker's crosswalk (a re-route puts its keys at once).
        table: the ``identity-routed`` table (layout in the module docstring); a dict in tests.
        in_partition_of: called with the event before ``table`` is read or written.

    """

    def __init__(self, crosswalk: Crosswalk, table: MutableMapping[str, Any],
                 in_partition_of: Callable[[Any], None] = lambda _event: None) -> None:
        self.crosswalk = crosswalk
        self.table = table
        self.in_partition_of = in_partition_of

    def record(self, event: Any, key: str, canonical: str, kind: str, raw: bytes, fact_id: str,
               tenant: str | None = None) -> str:
        """Keep a fact about to be forwarded under ``canonical``, and return the performance
        to forward it to: ``canonical`` the first time, else where it is counted now.

        A fact routed again (its source replayed, or its partition re-read after a rebalance
        from the last committed offset) goes where its first forwarding counted it, or where
        a re-route moved it since, even when the crosswalk says otherwise meanwhile: there
        the facts agent takes it for a duplicate. Forwarded under the crosswalk's newer
        answer it would be counted twice, once as itself and once more when the re-route
        still owed moves it there.
        """
        self.in_partition_of(event)
        table = self.table
        fkey = f"f:{key}|{fact_id}"
        item = table.get(fkey)
        if item is not None:
            return str(item[2])
        head = table.get("i:" + key) or {"n": 0, "at": -1}
        n = head["n"]
        chunk = table.get(f"c:{key}#{n - 1}") if n else None
        if chunk is None or len(chunk) >= CHUNK:
            chunk, n = [], n + 1
            table["i:" + key] = {**head, "n": n}
        table[f"c:{key}#{n - 1}"] = [*chunk, fact_id]
        item = [kind, base64.b64encode(raw).decode(), canonical, 0, None, -1]
        table[fkey] = item if tenant is None else [*item, tenant]
        return canonical

    def reroute(self, event: Any, key: str, to: str, keys: list[str], out: list[Out]) -> int:
        """Move the facts of ``key`` to ``to`` (see the module docstring); returns how many moved.

        Args:
            event: the re-route record's event (its offset on streams.release, its partition).
            key: the source performance key whose link was undone.
            to: the canonical performance id its facts belong to.
            keys: identifier keys that point at ``to`` from now on (this worker's crosswalk).
            out: where the retractions and re-sent facts go, in order.

        """
        for k in keys:
            self.crosswalk.put(k, to, "person")  # an undo is a person's decision
        self.in_partition_of(event)
        offset = int(event.message.offset)
        table = self.table
        head = table.get("i:" + key) or {"n": 0, "at": -1}
        if offset < head["at"]:
            log.info("older re-route ignored", extra={"performance_key": key, "performance_id": to,
                                                      "offset": offset, "applied": head["at"]})
            return 0
        moved = 0
        froms: set[str] = set()
        for fact_id in self._fact_ids(key, head["n"]):
            item = table.get(f"f:{key}|{fact_id}")
            if item is None:
                continue
            kind, b64, canonical, gen, prev, at = item[:6]
            tenant = item[6] if len(item) > 6 else None
            raw = base64.b64decode(b64)
            if at == offset:  # this re-route moved it before a crash: say it again
                out.append(fact_out(FACTS, prev, raw, kind, tenant, f"retract/{gen - 1}"))
                out.append(fact_out(FACTS, canonical, raw, kind, tenant, str(gen)))
            elif canonical != to:
                out.append(fact_out(FACTS, canonical, raw, kind, tenant, f"retract/{gen}"))
                out.append(fact_out(FACTS, to, raw, kind, tenant, str(gen + 1)))
                table[f"f:{key}|{fact_id}"] = [kind, b64, to, gen + 1, canonical, offset, *item[6:]]
                froms.add(canonical)
                moved += 1
        table["i:" + key] = {**head, "at": offset}
        log.info("re-routed facts", extra={"performance_key": key, "performance_id": to,
                                           "from": sorted(froms), "count": moved})
        return moved

    def _fact_ids(self, key: str, chunks: int) -> Iterator[str]:
        seen: set[str] = set()
        for j in range(chunks):
            for fact_id in self.table.get(f"c:{key}#{j}") or ():
                if fact_id not in seen:  # listed twice when a crash came between two writes
                    seen.add(fact_id)
                    yield fact_id

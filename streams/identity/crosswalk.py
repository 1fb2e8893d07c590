"""The identity crosswalk: (namespace, value) -> canonical performance id.

Rules (deterministic, so two workers reach the same answer without talking):
- an identifier already in the crosswalk keeps its canonical id (links are sticky);
- a fact whose identifiers are known resolves to the best canonical id among them
  (priority dip > uit > vendor > others, then lexical); two different canonical ids
  for one fact is a conflict: counted, logged, and the best one wins (no merge);
- a calendar fact with no known identifier founds a performance whose canonical id is
  the key of its best identifier; founded by one without a sector (DIP/UiT) id, it is
  renamed when a description with one is matched to it (``MatchDesk``), so the facts
  routed under such a link are kept for the move like those of a link a person may undo;
- a link this worker changed itself (a rename, a re-route, a person's decision) is not
  undone by the identity topic's older link for that key, which its reader may still be
  behind on: until the reader brings the link as this worker set it, a link naming a
  performance the key was moved away from is stale (``follow``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["UNDOABLE", "Crosswalk", "best_key", "is_sector", "keys_of", "priority"]

#: Link reasons a person may undo; routing records the facts it forwards under them.
UNDOABLE = frozenset({"match", "person"})


def is_sector(key: str) -> bool:
    """Whether ``key`` is a sector identifier (DIP or UiTdatabank), the kind a performance is
    named by once a description carries one."""
    return priority(key)[0] <= 1


def priority(key: str) -> tuple[int, str]:
    ns = key.split("|", 1)[0]
    rank = 0 if ns == "dip" else 1 if ns == "uit" else 2 if ns.startswith("vendor:") else 3
    return rank, key


def best_key(keys: Iterable[str]) -> str:
    return min(keys, key=priority)


def keys_of(fact: dict[str, Any]) -> list[str]:
    """Every identifier key of a fact (its performance key first)."""
    keys = [fact["performance_key"]]
    for ident in fact.get("identifiers") or []:
        k = f"{ident['namespace']}|{ident['value']}"
        if k not in keys:
            keys.append(k)
    return keys


class Crosswalk:
    """The in-memory view every worker keeps of the compacted identity topic."""

    def __init__(self) -> None:
        self._links: dict[str, str] = {}
        #: keys whose link a person may undo (reason match or person) -> that reason
        self.undoable: dict[str, str] = {}
        #: keys this worker moved -> the performances it moved them away from (see ``follow``)
        self._stale: dict[str, set[str]] = {}
        self._lock = threading.Lock()
        self.conflicts = 0

    def __len__(self) -> int:
        return len(self._links)

    def get(self, key: str) -> str | None:
        return self._links.get(key)

    def put(self, key: str, performance_id: str, reason: str = "identifier") -> None:
        """Link ``key`` to ``performance_id`` by this worker's own decision; ``reason`` is why
        (see ``UNDOABLE``). The performance it moves the key away from is remembered as
        stale until the identity reader catches up with this link (``follow``)."""
        with self._lock:
            old = self._links.get(key)
            if old is not None and old != performance_id:
                self._stale.setdefault(key, set()).add(old)
            self._set(key, performance_id, reason)

    def follow(self, key: str, performance_id: str, reason: str = "identifier") -> bool:
        """Link ``key`` as the identity topic says; False when the link is stale: it names a
        performance this worker moved the key away from, and the reader has not yet brought
        the link this worker set (it is behind). The link as set clears the stale marks."""
        with self._lock:
            stale = self._stale.get(key)
            if stale is not None:
                if performance_id != self._links.get(key) and performance_id in stale:
                    return False
                del self._stale[key]
            self._set(key, performance_id, reason)
            return True

    def _set(self, key: str, performance_id: str, reason: str) -> None:
        if self._links.get(key) != performance_id:
            # most keys name their own performance: then the key is its value too (one
            # string a link, not two: 16.6 -> 10.2 MB at 100,000 links, tracemalloc)
            self._links[key] = key if performance_id == key else performance_id
        # a performance a description without a sector id founded is renamed when one with
        # a sector id joins it (streams.identity.match_domain): what it counts may move too
        if reason in UNDOABLE or (reason == "founded" and not is_sector(performance_id)):
            self.undoable[key] = reason
        else:
            self.undoable.pop(key, None)

    def reason_of(self, key: str) -> str | None:
        """Why ``key`` is linked as far as routing needs to know: match/person, else
        identifier (None when not linked)."""
        if key not in self._links:
            return None
        return self.undoable.get(key, "identifier")

    def linked_to(self, performance_id: str) -> list[str]:
        """Every key linked to ``performance_id`` (a scan: for the rare rename of one)."""
        with self._lock:
            return sorted(k for k, pid in self._links.items() if pid == performance_id)

    def resolve(self, keys: Iterable[str]) -> str | None:
        """The canonical id of a fact with these identifier keys, or None if unknown."""
        found = {c for k in keys if (c := self._links.get(k)) is not None}
        if not found:
            return None
        if len(found) > 1:
            self.conflicts += 1
        return best_key(found)

    def learn(self, keys: list[str]) -> tuple[str, list[str]]:
        """Canonical id for a calendar fact, and the keys that are new links."""
        canonical = self.resolve(keys) or best_key(keys)
        new = [k for k in keys if self._links.get(k) is None]
        for k in new:
            self.put(k, canonical)
        return canonical, new

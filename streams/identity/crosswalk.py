"""The identity crosswalk: (namespace, value) -> canonical performance id.

Rules (deterministic, so two workers reach the same answer without talking):
- an identifier already in the crosswalk keeps its canonical id (links are sticky);
- a fact whose identifiers are known resolves to the best canonical id among them
  (priority dip > uit > vendor > others, then lexical); two different canonical ids
  for one fact is a conflict: counted, logged, and the best one wins (no merge);
- a calendar fact with no known identifier founds a performance whose canonical id is
  the key of its best identifier; founded by one without a sector (DIP/UiT) id, it is
  renamed when a description with one is matched to it (``MatchDesk``), so the facts
  routed under such a link are kept for the move like those of a link a person may undo.
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
        self._lock = threading.Lock()
        self.conflicts = 0

    def __len__(self) -> int:
        return len(self._links)

    def get(self, key: str) -> str | None:
        return self._links.get(key)

    def put(self, key: str, performance_id: str, reason: str = "identifier") -> None:
        """Link ``key`` to ``performance_id``; ``reason`` is why (see ``UNDOABLE``)."""
        with self._lock:
            self._links[key] = performance_id
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

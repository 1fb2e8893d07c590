"""Idempotent state on a Faust table, whatever Faust's commit or exactly-once bugs do.

One table per agent holds both the state of each key (``s:<key>``) and a marker per
applied fact (``f:<fact id>``). For one fact the state is written first, carrying the
fact id in a small ring of recent ids, then the marker; both go to the same changelog
partition, in order. After a crash the replayed fact is found either in the ring (the
state made it, the marker maybe not) or by its marker, or nowhere (nothing made it):
it is applied exactly once in every case. A ring hit also re-writes the state and
re-publishes it, so a state write that reached the local store but not the changelog
(or an output lost in the crash) is repaired.
"""

from __future__ import annotations

from typing import Any

__all__ = ["IdempotentTable", "Seen"]

RING = 64


class Seen:
    NEW = "new"
    RECENT = "recent"  # in the ring: possibly a replay right after a crash
    OLD = "old"


class IdempotentTable:
    def __init__(self, table: Any, new_state: Any) -> None:
        self.table = table
        self._new = new_state
        self.keys = 0

    def state(self, key: str) -> dict[str, Any]:
        st = self.table.get(f"s:{key}")
        if st is None:
            self.keys += 1
            st = self._new()
            st["ring"] = []
        return st  # type: ignore[no-any-return]

    def seen(self, state: dict[str, Any], fact_id: str) -> str:
        if fact_id in state["ring"]:
            return Seen.RECENT
        if self.table.get(f"f:{fact_id}") is not None:
            return Seen.OLD
        return Seen.NEW

    def commit(self, key: str, state: dict[str, Any], fact_id: str | None) -> None:
        if fact_id is not None:
            ring = state["ring"]
            ring.append(fact_id)
            if len(ring) > RING:
                del ring[: len(ring) - RING]
        self.table[f"s:{key}"] = state
        if fact_id is not None:
            self.table[f"f:{fact_id}"] = 1

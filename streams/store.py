"""Idempotent state on Faust tables, whatever Faust's commit or exactly-once bugs do.

The state agents read ``participation.facts``: every fact of one performance is in one
partition, and Kafka delivers a partition in order, again after a crash. Two records
make applying facts exact (effectively once), with no multi-key transaction:

1. **First delivery wins.** ``facts-seen`` maps a fact id to the offset (on
   participation.facts) of its first delivery. Another delivery of the same fact at
   another offset (a source topic replayed, a connector resending, the identity agent
   forwarding twice around a crash) is a duplicate and changes nothing.
2. **Each value knows how far it got.** Every state value carries ``o``, the highest
   facts offset applied to it. A first delivery is applied to a value only when its
   offset is higher. After a crash the partition is delivered again from the last
   committed offset, and each value is brought forward by exactly the deliveries it
   misses, whichever of its sibling values or markers made it to the changelog.

A first delivery that a value already holds (offset <= ``o``: a redelivery after a
crash) re-publishes the value's record, which repairs an output lost in the crash.

Why this holds: a first delivery whose effects are not all in the state was not
committed (Faust commits only after the producer flushed every changelog and output
write of the batch), so it is delivered again, before any later duplicate of it. Local
RocksDB state that ran ahead of the changelogs at a kill -9 is discarded at the next
start (``streams.worker``), so the state after a crash is always a prefix of each
changelog partition, in the order the agent wrote it.

Values are compact JSON bytes in raw-serialized tables (Faust's JSON codec costs more
than the state logic), written and read with orjson, and every table's changelog writes
go out through the outbox with their batch, none through Faust's own changelog buffer.
Offsets are per partition of participation.facts, so that topic must never be recreated
under a running state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import orjson

from streams.faust_hooks import current_event, partition_db, table_store
from streams.outbox import Outbox

__all__ = ["FirstDelivery", "JsonMap", "JsonTable", "RawTable", "dumps", "loads"]

loads = orjson.loads


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON, byte for byte what ``json.dumps(value, separators=(",", ":"),
    ensure_ascii=False)`` writes for state values (orjson: a tenth of its cost).

    Copied into a bytes object of its own size: orjson 3.13's result keeps the 4 KB block
    it was written into (tracemalloc: 4,097 bytes for a 30-byte value), and a batch holds
    thousands of them until its changelog writes are sent."""
    return bytes(memoryview(orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)))


class RawTable:
    """A raw (bytes -> bytes) Faust table read directly from its store and written through
    the outbox: the local RocksDB write at once, the changelog write with the batch.
    Reads and writes go to the partition of the event named last with
    ``streams.context.in_partition_of``. The store is Faust's (``streams.faust_hooks``)."""

    def __init__(self, table: Any, outbox: Outbox) -> None:
        self.table = table
        self.outbox = outbox

    def get(self, key: bytes) -> bytes | None:
        event = current_event()
        if event is None:  # outside of a batch: Faust finds the partition
            return table_store(self.table).get(key)  # type: ignore[no-any-return]
        return partition_db(self.table, event.message.partition).get(key)  # type: ignore[no-any-return]

    def put(self, key: bytes, value: bytes) -> None:
        event = current_event()
        if event is None:
            raise RuntimeError("table write outside of a batch: call in_partition_of(event) first")
        partition = event.message.partition
        partition_db(self.table, partition).put(key, value)
        self.outbox.changelog(self.table, partition, key, value)

    def delete(self, key: bytes) -> None:
        """Delete ``key`` in the current event's partition; a tombstone on the changelog."""
        event = current_event()
        if event is None:
            raise RuntimeError("table write outside of a batch: call in_partition_of(event) first")
        partition = event.message.partition
        partition_db(self.table, partition).delete(key)
        self.outbox.changelog(self.table, partition, key, None)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        for key, raw in table_store(self.table).items():
            if raw is not None:
                yield key, raw

    def on_recover(self, callback: Any) -> None:
        self.table.on_recover(callback)


class JsonTable:
    """A raw table seen as ``str -> JSON value``, a key stored as its UTF-8 bytes."""

    #: a key's stored bytes, and back (:class:`JsonMap`: JSON strings)
    key_bytes: Callable[[str], bytes] = staticmethod(str.encode)
    key_str: Callable[[bytes], Any] = staticmethod(bytes.decode)

    def __init__(self, raw: RawTable) -> None:
        self.raw = raw

    def get(self, key: str, default: Any = None) -> Any:
        value = self.raw.get(self.key_bytes(key))
        return default if value is None else loads(value)

    def put(self, key: str, value: Any) -> None:
        self.raw.put(self.key_bytes(key), dumps(value))

    def items(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """Every ``(key, value)`` of the partitions this worker holds whose key starts with
        ``prefix`` (a scan: for rebuilding what is kept in memory after a rebalance, not
        for the hot path)."""
        for raw_key, value in self.raw.items():
            key = self.key_str(raw_key)
            if key.startswith(prefix):
                yield key, loads(value)

    def on_recover(self, callback: Any) -> None:
        self.raw.on_recover(callback)


class JsonMap(JsonTable, MutableMapping[str, Any]):  # type: ignore[misc] # items(prefix) is a generator
    """A :class:`JsonTable` whose keys are stored as a Faust table with JSON keys and values
    stores them (Faust's ``json`` codec: a key is a JSON string, quotes and all), so the
    state and changelogs the identity tables' earlier Faust JSON tables wrote read the
    same; and a dict besides (``[]``, ``in``, ``del``), as the identity desks use them.

    Why not Faust's own JSON table: each of its writes becomes a message in Faust's
    changelog buffer, sent one at a time, and this worker's batches do not wait for that
    buffer to ebb. A worker fed 50,000 calendar facts held 170,000 such writes, 54 MB of
    encoded values, when its memory peaked (heaptrack, orjson's ``dumps`` under a table's
    ``__setitem__``); the outbox hands a batch's writes to the producer with the batch."""

    key_bytes = staticmethod(dumps)
    key_str = staticmethod(loads)

    def __getitem__(self, key: str) -> Any:
        value = self.raw.get(dumps(key))
        if value is None:
            raise KeyError(key)
        return loads(value)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.raw.get(dumps(key)) is not None

    def __setitem__(self, key: str, value: Any) -> None:
        self.put(key, value)

    def __delitem__(self, key: str) -> None:
        raw_key = dumps(key)
        if self.raw.get(raw_key) is None:
            raise KeyError(key)
        self.raw.delete(raw_key)

    def __iter__(self) -> Iterator[str]:
        for key, _ in self.items():
            yield key

    def __len__(self) -> int:
        return sum(1 for _ in self.raw.items())


class FirstDelivery:
    """Which delivery of a fact is its first: ``facts-seen`` (fact id -> offset)."""

    def __init__(self, table: RawTable) -> None:
        self.table = table
        self._new: dict[str, int] = {}

    def is_first(self, fact_id: str, offset: int) -> bool:
        """True for the first delivery of a fact, also when it is delivered again at the
        same offset (after a crash); False for a duplicate at another offset."""
        seen = self._new.get(fact_id)
        if seen is None:
            raw = self.table.get(fact_id.encode())
            if raw is None:
                self._new[fact_id] = offset
                return True
            seen = int(raw)
        return seen == offset

    def cover(self, fact_id: str, offset: int) -> None:
        """Mark ``fact_id`` as first delivered at ``offset`` unless it was delivered before: a
        fact re-sent under a new performance (``streams.identity.reroute``) makes a later plain
        delivery of it there (a replay, a resend routed by the new link) a duplicate, also when
        its first delivery was counted in another partition."""
        if fact_id not in self._new and self.table.get(fact_id.encode()) is None:
            self._new[fact_id] = offset

    def save(self) -> int:
        """Write the markers of first deliveries seen since the last save (call in the
        partition of their facts, after their effects are written); returns how many."""
        n = len(self._new)
        for fact_id, offset in self._new.items():
            self.table.put(fact_id.encode(), b"%d" % offset)
        self._new.clear()
        return n

"""A batch of rows on its way to ClickHouse and the Kafka positions it covers.

Pure bookkeeping, no I/O: rows per table, the first and last offset per partition,
dead letters, and the deduplication token of each table's insert (derived from the
topic/partition/offset ranges, so the same batch retried carries the same token).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bus.deadletter import DeadLetter
from sinks.clickhouse.rows import Row

__all__ = ["Batch", "DeadLetter"]


@dataclass
class Batch:
    """Rows per table plus the positions (topic, partition -> first, last offset) they cover."""

    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    times: dict[str, list[int]] = field(default_factory=dict)  # event times, epoch ms
    ranges: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    #: fact table -> (performance id, fact id) of facts a re-route took back out of a
    #: performance (``bus.codec.MOVE_HEADER``): deleted after the batch's inserts.
    retracted: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: performance id -> offset of the availability tombstone that withdrew it: its rows in
    #: ``availability_current`` older than that are deleted after the batch's inserts.
    withdrawn: dict[str, int] = field(default_factory=dict)
    records: int = 0
    started: float | None = None

    def mark(self, topic: str, partition: int, offset: int) -> None:
        """Count a consumed record (written, skipped or dead-lettered) at this position."""
        if self.started is None:
            self.started = time.monotonic()
        key = (topic, partition)
        seen = self.ranges.get(key)
        self.ranges[key] = (offset, offset) if seen is None else (
            seen[0] if seen[0] < offset else offset, offset)
        self.records += 1

    def add(self, row: Row) -> None:
        self.rows.setdefault(row.table, []).append(row.values)
        self.times.setdefault(row.table, []).append(row.event_time)

    def retract(self, table: str, performance_id: str, fact_id: str) -> None:
        self.retracted.setdefault(table, []).append((performance_id, fact_id))

    def withdraw(self, performance_id: str, offset: int) -> None:
        self.withdrawn[performance_id] = offset

    def add_dead(self, letter: DeadLetter) -> None:
        self.dead.append(letter)

    def __len__(self) -> int:
        return self.records

    def is_empty(self) -> bool:
        return self.records == 0

    def fullest(self) -> int:
        """Rows of the table with the most rows in this batch."""
        return max((len(r) for r in self.rows.values()), default=0)

    def due(self, max_rows: int, max_seconds: float, now: float | None = None,
            max_records: int | None = None) -> bool:
        """Full (a table holds ``max_rows`` rows, or the batch covers ``max_records``
        records: rows, skips and dead letters), or its first record waited ``max_seconds``.
        ``max_records`` defaults to ``max_rows``."""
        if self.records == 0 or self.started is None:
            return False
        if self.records >= (max_rows if max_records is None else max_records):
            return True
        if self.fullest() >= max_rows:
            return True
        return (time.monotonic() if now is None else now) - self.started >= max_seconds

    def columns(self, table: str) -> list[tuple[Any, ...]]:
        """The table's rows transposed to columns (for a column-oriented insert)."""
        return list(zip(*self.rows[table], strict=True))

    def tables(self) -> list[str]:
        return sorted(t for t, rows in self.rows.items() if rows)

    def row_count(self) -> int:
        return sum(len(r) for r in self.rows.values())

    def token(self, scope: str, table: str) -> str:
        """Deduplication token of ``table``'s insert in this batch.

        Derived from ``scope`` (the consumer group), the table and every
        topic/partition/first-last offset range of the batch: a retry of the same batch
        carries the same token, a different batch a different one.
        """
        parts = ";".join(f"{t}:{p}:{a}-{b}" for (t, p), (a, b) in sorted(self.ranges.items()))
        digest = hashlib.sha256(f"{scope}|{table}|{parts}".encode()).hexdigest()
        return f"{table}:{digest[:40]}"

    def next_offsets(self) -> Iterable[tuple[str, int, int]]:
        """(topic, partition, offset to commit = last + 1) for every partition covered."""
        for (topic, partition), (_, last) in sorted(self.ranges.items()):
            yield topic, partition, last + 1

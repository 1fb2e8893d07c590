"""Writing one batch to ClickHouse: every table's rows in one insert, then the dead letters.

An insert that fails because ClickHouse refuses the data (a value a column or a
constraint cannot take, too many partitions for one insert), not because it is away,
would fail the same way for ever. Then the table's rows are split in halves, again and
again, until the rows ClickHouse refuses are found: those become dead letters (stage
``insert``, the record's original bytes) and every other row is inserted. Each part
carries a deduplication token derived from the batch's and the part's place in it, so a
batch written again (a retry, a crash before the commit) adds no row twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError

from bus.log import get_logger
from sinks.clickhouse.batch import Batch
from sinks.clickhouse.dlq import DeadLetterWriter, letter_of
from sinks.clickhouse.errors import InsertRefusedError, SinkError
from sinks.clickhouse.metrics import SinkMetrics
from sinks.clickhouse.rows import COLUMNS

__all__ = ["AGE_SAMPLE", "BatchWriter", "refused"]

log = get_logger("sinks.clickhouse")

_INSERT_SETTINGS = {"deduplicate_blocks_in_dependent_materialized_views": 1}
AGE_SAMPLE = 100

#: ClickHouse error codes that blame the inserted data, not the server or the network:
#: CANNOT_PARSE_TEXT, CANNOT_PARSE_INPUT_ASSERTION_FAILED, CANNOT_PARSE_DATE,
#: CANNOT_PARSE_DATETIME, TYPE_MISMATCH, ARGUMENT_OUT_OF_BOUND, CANNOT_CONVERT_TYPE,
#: CANNOT_PARSE_NUMBER, INCORRECT_DATA, TOO_LARGE_ARRAY_SIZE, TOO_LARGE_STRING_SIZE,
#: SIZES_OF_ARRAYS_DONT_MATCH, VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE,
#: CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN, DECIMAL_OVERFLOW, VIOLATED_CONSTRAINT,
#: UNKNOWN_ELEMENT_OF_ENUM.
_DATA_CODES = frozenset({6, 27, 38, 41, 53, 69, 70, 72, 117, 128, 131, 190, 321, 349, 407, 469,
                         691})
_TOO_MANY_PARTS = 252  # also "merges are behind" (retriable): told apart by the message
_TOO_MANY_PARTITIONS = "partitions for single INSERT block"


def refused(exc: BaseException) -> bool:
    """Whether ClickHouse (or the client encoding for it) refused the data itself, so
    the same rows would fail again; False for a server that is away, slow or busy.
    """
    if isinstance(exc, OperationalError):  # network, timeouts: retry
        return False
    if isinstance(exc, DataError | UnicodeError):  # the client cannot encode a value
        return True
    if isinstance(exc, DatabaseError):
        code = exc.code
        return code in _DATA_CODES or (code == _TOO_MANY_PARTS and _TOO_MANY_PARTITIONS in str(exc))
    return False


class BatchWriter:
    """One attempt at writing a batch: inserts, refused rows found, dead letters sent.

    Args:
        metrics: rows written, insert latency and failures, ClickHouse up, dead letters.
        group_id: the consumer group: the scope of every deduplication token.
        short: unprefixed topic name for metric labels.

    Attributes:
        client: the ClickHouse client (set by the sink once connected).
        dlq: the dead-letter writer (set by the sink in ``setup()``).
        clickhouse_ok: whether the last ClickHouse call succeeded (a readiness check).

    """

    def __init__(self, metrics: SinkMetrics, group_id: str, short: Callable[[str], str]) -> None:
        self.metrics = metrics
        self.group_id = group_id
        self.short = short
        self.client: Any = None
        self.dlq: DeadLetterWriter | None = None
        self.clickhouse_ok = False

    def up(self, ok: bool) -> None:
        self.clickhouse_ok = ok
        self.metrics.clickhouse_up.set(1 if ok else 0)

    def write(self, batch: Batch, written: set[str] | None = None) -> None:
        """Insert every table of ``batch`` not in ``written`` (updated as tables succeed),
        then send its dead letters, refused rows included. Offsets are not touched:
        writing the same batch again is harmless (same deduplication tokens, replacing
        engines).

        Raises:
            Exception: whatever the ClickHouse client or the DLQ producer raised, except
                a refusal of the data (see :func:`refused`).

        """
        written = set() if written is None else written
        for table in batch.tables():
            if table in written:
                continue
            rows = batch.rows[table]
            token = batch.token(self.group_id, table)
            try:
                self._insert(table, rows, token)
                bad = []
            except Exception as exc:
                if not refused(exc):
                    raise
                bad = self._refused_rows(table, rows, token, 0, len(rows), exc)
                self._dead_letter(batch, table, bad)
            written.add(table)
            self.metrics.rows_written.labels(table).inc(len(rows) - len(bad))
            self._observe_age(table, batch.times[table])
        self.up(True)
        if batch.dead:
            assert self.dlq is not None, "call setup() first"
            self.dlq.send(batch.dead)
            for d in batch.dead:
                self.metrics.dlq.labels(self.short(d.topic), d.stage).inc()
            batch.dead = []

    def _insert(self, table: str, rows: list[tuple[Any, ...]], token: str) -> None:
        m = self.metrics
        t0 = time.perf_counter()
        try:
            self.client.insert(table, list(zip(*rows, strict=True)), column_names=list(COLUMNS[table]),
                               column_oriented=True,
                               settings={**_INSERT_SETTINGS, "insert_deduplication_token": token})
        except Exception as exc:
            m.insert_failures.labels(table).inc()
            if not refused(exc):
                self.up(False)
            raise
        m.insert_seconds.labels(table).observe(time.perf_counter() - t0)

    def _refused_rows(self, table: str, rows: list[tuple[Any, ...]], token: str, lo: int, hi: int,
                      error: Exception) -> list[tuple[int, Exception]]:
        """Rows ``lo:hi`` were refused as a whole (``error``): insert what ClickHouse takes
        of them, half by half; the (index, error) of each row it refuses on its own.

        Raises:
            Exception: an insert failed for another reason than the data.

        """
        if hi - lo == 1:
            return [(lo, error)]
        mid = (lo + hi) // 2
        out: list[tuple[int, Exception]] = []
        for a, b in ((lo, mid), (mid, hi)):
            try:
                self._insert(table, rows[a:b], f"{token}:{a}-{b}")
            except Exception as exc:
                if not refused(exc):
                    raise
                out += self._refused_rows(table, rows, token, a, b, exc)
        return out

    def _dead_letter(self, batch: Batch, table: str, bad: list[tuple[int, Exception]]) -> None:
        origins = batch.origins.get(table, [])
        for i, exc in bad:
            origin = origins[i] if i < len(origins) else None
            if origin is None:
                raise SinkError(f"ClickHouse refused a row of {table} that came from no consumed "
                                f"record, so it cannot be dead-lettered: {exc}") from exc
            error = InsertRefusedError(
                f"ClickHouse refused this record's row in {table} "
                f"({type(exc).__name__}: {str(exc)[:1500]}); fix the value at the source, or "
                "the table, and send the record again")
            batch.add_dead(letter_of(origin, error, "insert"))
            log.warning("row refused by ClickHouse; record sent to the dead-letter topic",
                        extra={"table": table, "topic": origin.topic,
                               "partition": origin.partition, "offset": origin.offset,
                               "error": str(exc)[:300]})

    def _observe_age(self, table: str, times: list[int]) -> None:
        # a sample (every row's age would cost more than its insert): evenly spaced,
        # always with the oldest row, at most AGE_SAMPLE per table per batch
        now_ms = time.time() * 1000
        age = self.metrics.event_age.labels(table)
        step = max(1, len(times) // AGE_SAMPLE)
        for t in {min(times), *times[::step]}:
            age.observe((now_ms - t) / 1000)

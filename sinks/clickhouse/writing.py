"""Writing one batch to ClickHouse: every table's rows in one column-oriented insert
with the batch's deduplication token, then the batch's dead letters. A mixin of
:class:`sinks.clickhouse.sink.ClickHouseSink`, which owns the client, the metrics and
the dead-letter writer; the loop decides when a batch is written and committed.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sinks.clickhouse.batch import Batch
from sinks.clickhouse.dlq import DeadLetterWriter
from sinks.clickhouse.metrics import SinkMetrics
from sinks.clickhouse.rows import COLUMNS

__all__ = ["AGE_SAMPLE", "BatchWriting"]

_INSERT_SETTINGS = {"deduplicate_blocks_in_dependent_materialized_views": 1}
AGE_SAMPLE = 100


class BatchWriting:
    """One attempt at writing a batch, and the writer thread that runs it."""

    client: Any
    metrics: SinkMetrics
    group_id: str
    _executor: ThreadPoolExecutor | None
    _clickhouse_ok: bool
    _dlq: DeadLetterWriter | None
    _contexts: dict[str, Any]  # table -> its insert context (``_context``)

    def _short(self, topic: str) -> str:
        raise NotImplementedError

    def _context(self, table: str) -> Any:
        """``table``'s insert context, made once per table and used for every insert: a
        fresh one per insert asks the server for the column types (``DESCRIBE TABLE``) and
        leaves a reference cycle holding the batch's columns (the context keeps a bound
        method of itself), which only the cycle collector frees. A context still refers to
        its last insert's columns until the next one (clickhouse-connect clears its data,
        not its column view): one batch per table at most."""
        ctx = self._contexts.get(table)
        if ctx is None:
            ctx = self._contexts[table] = self.client.create_insert_context(
                table, column_names=list(COLUMNS[table]), column_oriented=True)
        return ctx

    def delete_retracted(self, table: str, pairs: list[tuple[str, str]]) -> None:
        """Delete the rows of facts a re-route took back out of a performance (after an
        undone match the fact's row moves to its right performance). A lightweight delete:
        rare (a person's undo), idempotent, and after the batch's inserts, so a fact
        inserted and retracted within one batch is gone too."""
        self._delete(table, pairs, "fact_id = %(v{i})s")

    def delete_withdrawn(self, withdrawn: dict[str, int]) -> None:
        """Delete the current availability of performances an availability tombstone withdrew
        (renamed to their sector id): the rows older than the tombstone; a row of the same
        performance come back later (a higher offset) stays."""
        self._delete("availability_current", sorted(withdrawn.items()), "kafka_offset < %(v{i})s")

    def _delete(self, table: str, pairs: list[tuple[str, Any]], condition: str) -> None:
        """``DELETE FROM table`` the rows of each ``(performance id, value)`` that meet
        ``condition`` (on ``%(v{i})s``, the value)."""
        params: dict[str, Any] = {}
        where = []
        for i, (pid, value) in enumerate(pairs):
            params[f"p{i}"], params[f"v{i}"] = pid, value
            where.append(f"(performance_id = %(p{i})s AND {condition.format(i=i)})")
        try:
            # the table and conditions are this module's own; every value is a bound parameter
            self.client.command(f"DELETE FROM {table} WHERE " + " OR ".join(where),  # noqa: S608
                                parameters=params)
        except Exception:
            self.metrics.insert_failures.labels(table).inc()
            self._clickhouse_ok = False
            self.metrics.clickhouse_up.set(0)
            raise

    def _insert(self, batch: Batch, written: set[str]) -> None:
        """The writer thread's job: :meth:`write`."""
        self.write(batch, written)

    def _writer(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-insert")
        return self._executor

    def write(self, batch: Batch, written: set[str] | None = None) -> None:
        """One attempt at inserting every table of ``batch`` not in ``written`` (updated as
        tables succeed), then sending its dead letters. Offsets are not touched: writing
        the same batch again is harmless (same deduplication tokens, replacing engines).

        Raises:
            Exception: whatever the ClickHouse client or the DLQ producer raised.

        """
        written = set() if written is None else written
        m = self.metrics
        for table in batch.tables():
            if table in written:
                continue
            t0 = time.perf_counter()
            try:
                ctx = self._context(table)
                ctx.settings = {**_INSERT_SETTINGS,
                                "insert_deduplication_token": batch.token(self.group_id, table)}
                ctx.data = batch.columns(table)
                try:
                    self.client.insert(context=ctx)
                finally:
                    ctx.data = None
            except Exception:
                self._contexts.pop(table, None)  # a fresh one for the retry (a new server, a migration)
                m.insert_failures.labels(table).inc()
                self._clickhouse_ok = False
                m.clickhouse_up.set(0)
                raise
            m.insert_seconds.labels(table).observe(time.perf_counter() - t0)
            written.add(table)
            rows = batch.rows[table]
            m.rows_written.labels(table).inc(len(rows))
            now_ms = time.time() * 1000
            age = m.event_age.labels(table)
            times = batch.times[table]
            # a sample (every row's age would cost more than its insert): every row of a
            # small batch, else evenly spaced and the oldest row, about AGE_SAMPLE per table
            step = max(1, len(times) // AGE_SAMPLE)
            sample = times[::step]
            if step > 1:
                sample.append(min(times))
            for t in sample:
                age.observe((now_ms - t) / 1000)
        for table, pairs in sorted(batch.retracted.items()):
            if f"retract:{table}" in written:
                continue
            self.delete_retracted(table, pairs)
            written.add(f"retract:{table}")
        if batch.withdrawn and "withdraw" not in written:
            self.delete_withdrawn(batch.withdrawn)
            written.add("withdraw")
        self._clickhouse_ok = True
        m.clickhouse_up.set(1)
        if batch.dead:
            assert self._dlq is not None
            self._dlq.send(batch.dead)
            for d in batch.dead:
                m.dlq.labels(self._short(d.topic), d.stage).inc()
            batch.dead = []

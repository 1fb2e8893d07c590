"""The sink inserts one batch while it decodes the next: offsets still follow the inserts.

ClickHouse goes away while batches are in flight and the next ones are being read; the
sink is then killed (-9) while ClickHouse is still down. Whatever it committed must be
in ClickHouse, so a restarted sink, with ClickHouse back, ends with every fact exactly
once. A sink that committed a batch when handing it to its writer (or committed a later
batch past a failed one) loses the facts of the failed batch here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from bus.serde import Registry
from bus.settings import Settings
from sinks.clickhouse.connect import connect_clickhouse
from tests.support.clickhouse import ClickHouseServerProcess, caught_up, fresh_settings, sink_topics
from tests.support.dataset import Dataset, make_dataset, produce_dataset
from tests.support.sink import SinkProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _expected(datasets: Iterable[Dataset]) -> tuple[int, int]:
    tickets = [t for ds in datasets for t in ds.of("ticket")]
    return len(tickets), sum(t.quantity for t in tickets)


def _in_clickhouse(settings: Settings) -> tuple[int, int, int]:
    """(facts, tickets, raw rows) of ``ticket_facts``: distinct facts, their quantities,
    and rows before replacing (a fact inserted twice under different tokens shows here)."""
    client = connect_clickhouse(settings.clickhouse)
    try:
        client.command("OPTIMIZE TABLE ticket_facts FINAL")
        n, q = client.query("SELECT uniqExact(fact_id), sum(quantity) FROM ticket_facts").result_rows[0]
        raw = client.query("SELECT count() FROM ticket_facts").result_rows[0][0]
        return int(n), int(q), int(raw)
    finally:
        client.close()


def _log(path: Path) -> str:
    return path.read_text()[-3000:] if path.exists() else ""


def test_commits_follow_the_inserts_while_the_next_batch_is_read_through_an_outage_and_a_kill(
        topics: Settings, registry: Registry, tmp_path: Path) -> None:
    server = ClickHouseServerProcess(tmp_path / "ch").start()
    first: SinkProcess | None = None
    second: SinkProcess | None = None
    try:
        base = topics.model_copy(update={"clickhouse": topics.clickhouse.model_copy(
            update={"url": server.url})})
        # small batches: many handed over while the next is read, several in the outage
        s = fresh_settings(base, "pipe", batch_max_rows=120, batch_max_seconds=0.3,
                           backoff_max_s=1.0)
        waves = [make_dataset(seed=51, performances=8, tickets=900)]
        produce_dataset(s, registry, waves[0])
        first = SinkProcess(s, tmp_path / "sink1.log").start()
        assert wait_until(lambda: first.metric("cultuurbus_sink_rows_written_total") > 0, 120, 0.05), \
            _log(tmp_path / "sink1.log")
        server.stop()  # mid-run: batches in flight, the next ones being read
        waves.append(make_dataset(seed=52, performances=8, tickets=900))
        produce_dataset(s, registry, waves[1])
        assert wait_until(lambda: first.metric("cultuurbus_sink_insert_failures_total") >= 3, 120), \
            _log(tmp_path / "sink1.log")
        assert first.alive() and not caught_up(s, sink_topics(s))
        first.kill9()  # with ClickHouse still down: what was committed must already be in it

        server.start()
        waves.append(make_dataset(seed=53, performances=8, tickets=300))  # more meanwhile
        produce_dataset(s, registry, waves[2])
        second = SinkProcess(s, tmp_path / "sink2.log").start()
        assert wait_until(lambda: caught_up(s, sink_topics(s)), 240, 1.0), _log(tmp_path / "sink2.log")
        assert second.terminate() == 0
        second = None
        facts, tickets = _expected(waves)
        assert _in_clickhouse(s) == (facts, tickets, facts)  # every fact once: none lost, no doubles
    finally:
        for sink in (first, second):
            if sink is not None and sink.alive():
                sink.kill9()
        server.stop()

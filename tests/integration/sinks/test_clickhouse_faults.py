"""Crashes and outages: the sink as a subprocess, killed, stopped, and ClickHouse gone away."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from bus.kafka import make_consumer
from bus.serde import Registry
from bus.settings import Settings
from sinks.clickhouse.connect import connect_clickhouse
from tests.support import REPO_ROOT
from tests.support.clickhouse import (
    ClickHouseServerProcess,
    caught_up,
    fresh_settings,
    sink_topics,
)
from tests.support.dataset import make_dataset, produce_dataset
from tests.support.sink import SinkProcess
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _count(settings: Settings, sql: str) -> int:
    try:
        client = connect_clickhouse(settings.clickhouse)
    except Exception:
        return -1
    try:
        return int(client.query(sql).result_rows[0][0])
    except Exception:  # tables not there yet, server away
        return -1
    finally:
        client.close()


def _nothing_committed(settings: Settings) -> bool:
    c = make_consumer(settings.kafka, settings.sink.group_id)
    try:
        parts = [TopicPartition(t, p) for t in sink_topics(settings)
                 for p in c.list_topics(t, timeout=10).topics[t].partitions]
        return all(tp.offset < 0 for tp in c.committed(parts, timeout=10))
    finally:
        c.close()


def _facts(ds_list) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    tickets = [t for ds in ds_list for t in ds.of("ticket")]
    return len(tickets), sum(t.quantity for t in tickets)


_TOTALS = "SELECT count(), sum(quantity) FROM ticket_facts FINAL"


def _totals(settings: Settings) -> tuple[int, int]:
    client = connect_clickhouse(settings.clickhouse)
    try:
        n, q = client.query(_TOTALS).result_rows[0]
        return int(n), int(q)
    finally:
        client.close()


def test_killed_between_insert_and_commit_restarts_without_doubles_or_gaps(
        topics: Settings, registry: Registry, tmp_path: Path, cleanup: list[Settings]) -> None:
    s = fresh_settings(topics, "kill", batch_max_rows=100_000, batch_max_seconds=2.0)
    cleanup.append(s)
    first_ds = make_dataset(seed=11, performances=10, tickets=600)
    produce_dataset(s, registry, first_ds)
    first = SinkProcess(s, tmp_path / "sink1.log", entry="tests.support.sink_paused").start()
    try:
        assert wait_until(lambda: _count(s, "SELECT count() FROM ticket_facts") > 0, 120), \
            (tmp_path / "sink1.log").read_text()[-3000:]
        assert first.alive()
        assert _nothing_committed(s)  # inserted, not committed: the crash window
    finally:
        first.kill9()
    second_ds = make_dataset(seed=12, performances=10, tickets=300)  # more arrives meanwhile
    produce_dataset(s, registry, second_ds)
    second = SinkProcess(s, tmp_path / "sink2.log").start()
    try:
        assert wait_until(lambda: caught_up(s, sink_topics(s)), 240, 1.0), \
            (tmp_path / "sink2.log").read_text()[-3000:]
    finally:
        assert second.terminate() == 0
    expected = _facts([first_ds, second_ds])
    assert _totals(s) == expected
    assert _count(s, "SELECT uniqExact(fact_id) FROM ticket_facts") == expected[0]
    client = connect_clickhouse(s.clickhouse)
    client.command("OPTIMIZE TABLE ticket_facts FINAL")
    assert client.query("SELECT count() FROM ticket_facts").result_rows[0][0] == expected[0]
    client.close()


def test_clickhouse_down_for_a_while_loses_nothing(topics: Settings, registry: Registry,
                                                   tmp_path: Path) -> None:
    server = ClickHouseServerProcess(tmp_path / "ch").start()
    try:
        base = topics.model_copy(update={"clickhouse": topics.clickhouse.model_copy(
            update={"url": server.url})})
        s = fresh_settings(base, "down", batch_max_rows=200, batch_max_seconds=0.5, backoff_max_s=2.0)
        before = make_dataset(seed=21, performances=8, tickets=300)
        produce_dataset(s, registry, before)
        sink = SinkProcess(s, tmp_path / "sink.log").start()
        try:
            assert wait_until(lambda: caught_up(s, sink_topics(s)), 120, 1.0), \
                (tmp_path / "sink.log").read_text()[-3000:]
            assert _totals(s) == _facts([before])
            server.stop()
            during = make_dataset(seed=22, performances=8, tickets=300)
            produce_dataset(s, registry, during)
            assert wait_until(lambda: sink.metric("cultuurbus_sink_insert_failures_total") >= 4, 120), \
                (tmp_path / "sink.log").read_text()[-3000:]
            assert sink.alive() and not caught_up(s, sink_topics(s))
            server.start()
            assert wait_until(lambda: caught_up(s, sink_topics(s)), 180, 1.0), \
                (tmp_path / "sink.log").read_text()[-3000:]
            assert _totals(s) == _facts([before, during])
            assert sink.metric("cultuurbus_sink_clickhouse_up") == 1
        finally:
            assert sink.terminate() == 0
    finally:
        server.stop()


_READ_CHDB = """
import json, sys
from bus.settings import ClickHouseSettings
from sinks.clickhouse.connect import connect_clickhouse
c = connect_clickhouse(ClickHouseSettings(url=sys.argv[1], database=sys.argv[2]))
n, q = c.query("SELECT count(), sum(quantity) FROM ticket_facts FINAL").result_rows[0]
raw = c.query("SELECT count() FROM ticket_facts").result_rows[0][0]
perfs = c.query("SELECT count() FROM performances FINAL").result_rows[0][0]
print(json.dumps([int(n), int(q), int(raw), int(perfs)]))
"""


def test_sigterm_flushes_the_open_batch_into_embedded_chdb(topics: Settings, registry: Registry,
                                                           tmp_path: Path) -> None:
    base = topics.model_copy(update={"clickhouse": topics.clickhouse.model_copy(
        update={"url": f"chdb://{tmp_path}/embedded"})})
    s = fresh_settings(base, "term", batch_max_rows=100_000, batch_max_seconds=3600)
    ds = make_dataset(seed=31, performances=6, tickets=250)
    produced = produce_dataset(s, registry, ds)
    sink = SinkProcess(s, tmp_path / "sink.log").start()
    try:
        # everything consumed into one open batch that neither size nor time will flush
        assert wait_until(lambda: sink.metric("cultuurbus_sink_records_in_total") >= produced, 120), \
            sink.diagnosis(f"produced {produced};")
        assert _nothing_committed(s)
    finally:
        assert sink.terminate() == 0, (tmp_path / "sink.log").read_text()[-3000:]
    assert caught_up(s, sink_topics(s))
    out = subprocess.run([sys.executable, "-c", _READ_CHDB, s.clickhouse.url, s.clickhouse.database],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
                         env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert out.returncode == 0, out.stderr[-2000:]
    n, q, raw, perfs = json.loads(out.stdout.strip().splitlines()[-1])
    assert (n, q) == _facts([ds]) and raw == n and perfs == 6


def test_two_sinks_in_one_group_share_the_work_and_write_every_record_once(
        topics: Settings, registry: Registry, tmp_path: Path, cleanup: list[Settings]) -> None:
    s = fresh_settings(topics, "pair", batch_max_rows=100, batch_max_seconds=0.3)
    cleanup.append(s)
    waves = [make_dataset(seed=40 + i, performances=8, tickets=200) for i in range(3)]
    produce_dataset(s, registry, waves[0])
    a = SinkProcess(s, tmp_path / "a.log").start()
    b: SinkProcess | None = None
    try:
        assert wait_until(lambda: _count(s, "SELECT count() FROM ticket_facts") > 0, 120)
        b = SinkProcess(s, tmp_path / "b.log").start()  # joins: the group rebalances
        pair = b

        def shared() -> bool:
            owned = (a.metric("cultuurbus_sink_assigned_partitions"),
                     pair.metric("cultuurbus_sink_assigned_partitions"))
            return owned[0] > 0 and owned[1] > 0 and sum(owned) == len(sink_topics(s)) * 4

        assert wait_until(shared, 120), (tmp_path / "b.log").read_text()[-2000:]
        produce_dataset(s, registry, waves[1])
        assert wait_until(lambda: caught_up(s, sink_topics(s)), 180, 1.0), \
            (tmp_path / "a.log").read_text()[-2000:] + (tmp_path / "b.log").read_text()[-2000:]
        assert pair.metric("cultuurbus_sink_records_in_total") > 0  # both did work
        assert a.terminate() == 0  # leaves: b takes every partition
        produce_dataset(s, registry, waves[2])
        assert wait_until(lambda: caught_up(s, sink_topics(s)), 180, 1.0), \
            (tmp_path / "b.log").read_text()[-3000:]
    finally:
        a.terminate()
        if b is not None:
            assert b.terminate() == 0
    assert _totals(s) == _facts(waves)
    assert _count(s, "SELECT uniqExact(fact_id) FROM ticket_facts") == _facts(waves)[0]

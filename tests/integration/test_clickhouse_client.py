"""clickhouse-connect against the local ClickHouse server (HTTP) and chdb://."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus.clickhouse import make_clickhouse_client
from bus.settings import ClickHouseSettings

pytestmark = pytest.mark.integration


def _roundtrip(client, table: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    client.command(f"DROP TABLE IF EXISTS {table}")
    client.command(f"CREATE TABLE {table} (performance_id String, sold UInt32) "
                   "ENGINE = MergeTree ORDER BY performance_id")
    client.insert(table, [["p1", 10], ["p2", 20], ["p1", 5]],
                  column_names=["performance_id", "sold"])
    return client.query(f"SELECT performance_id, sum(sold) FROM {table} "
                        "GROUP BY performance_id ORDER BY performance_id").result_rows


def test_insert_and_read_over_http_against_the_server(stack) -> None:  # type: ignore[no-untyped-def]
    client = make_clickhouse_client(ClickHouseSettings(url=stack.clickhouse_url, database="t_http"))
    assert client.server_version.startswith("26.")
    assert _roundtrip(client, "t_http.sold") == [("p1", 15), ("p2", 20)]


def test_insert_and_read_through_embedded_chdb(tmp_path: Path) -> None:
    client = make_clickhouse_client(ClickHouseSettings(url=f"chdb://{tmp_path}/ch",
                                                       database="t_chdb"))
    assert _roundtrip(client, "t_chdb.sold") == [("p1", 15), ("p2", 20)]

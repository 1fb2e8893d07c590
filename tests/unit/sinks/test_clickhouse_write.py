"""Which insert failures blame the rows (found and dead-lettered) and which the server
(retried): clickhouse-connect's own exceptions as the client raises them."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError

from sinks.clickhouse.write import refused


@pytest.mark.parametrize("error", [
    DatabaseError("Code: 469. DB::Exception: Constraint `c` is violated at row 2", code=469),
    DatabaseError("Code: 53. DB::Exception: Type mismatch", code=53),
    DatabaseError("Code: 252. DB::Exception: Too many partitions for single INSERT block "
                  "(more than 100)", code=252),
    DataError("Unable to create native array for column `quantity`: error"),
    UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
])
def test_an_insert_clickhouse_refuses_for_its_data_is_a_refusal(error: Exception) -> None:
    assert refused(error)


@pytest.mark.parametrize("error", [
    OperationalError("Error HTTPConnectionPool: Connection refused executing HTTP request"),
    DatabaseError("Code: 252. DB::Exception: Too many parts (3001). Merges are processing "
                  "significantly slower than inserts", code=252),
    DatabaseError("Code: 241. DB::Exception: Memory limit exceeded", code=241),
    DatabaseError("Code: 60. DB::Exception: Unknown table", code=60),
    DatabaseError("HTTP driver received HTTP status 503"),
    ConnectionResetError("reset by peer"),
])
def test_an_insert_failing_because_the_server_is_away_or_busy_is_retried(error: Exception) -> None:
    assert not refused(error)

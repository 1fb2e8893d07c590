"""The outbox's partitioner and the worker's handling of state left by a dead worker."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus.errors import ConfigError
from streams.outbox import Outbox, murmur2
from streams.worker import claim, discard_unclean_state

# Kafka's own test vectors for Utils.murmur2 (signed 32-bit, as Java returns them).
JAVA_MURMUR2 = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
                b"a-little-bit-longer-string": -1486304829,
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, b"abc": 479470107}


@pytest.mark.parametrize("key,signed", JAVA_MURMUR2.items())
def test_keys_hash_as_the_java_client_hashes_them(key: bytes, signed: int) -> None:
    assert murmur2(key) == signed & 0xFFFFFFFF


def test_a_key_goes_to_the_partition_java_clients_pick() -> None:
    outbox = Outbox(app=None)
    for key, signed in JAVA_MURMUR2.items():
        assert outbox.partition(key, 4) == (signed & 0x7FFFFFFF) % 4
        assert outbox.partition(key, 4) == outbox.partition(key, 4)  # cached answer is the same


def _tables(root: Path) -> Path:
    tables = root / "v1" / "tables"
    (tables / "availability-state-0.db").mkdir(parents=True)
    (tables / "availability-state-0.db" / "CURRENT").write_text("x")
    return tables


def test_a_worker_that_stopped_cleanly_keeps_its_local_tables(tmp_path: Path) -> None:
    tables = _tables(tmp_path)
    assert discard_unclean_state(tables, tmp_path / "RUNNING") is False
    assert (tables / "availability-state-0.db" / "CURRENT").exists()


def test_a_worker_that_died_leaves_its_tables_to_be_recovered_from_the_changelogs(tmp_path: Path) -> None:
    tables = _tables(tmp_path)
    (tmp_path / "RUNNING").write_text("a worker runs")
    assert discard_unclean_state(tables, tmp_path / "RUNNING") is True
    assert not tables.exists()


def test_a_second_worker_on_the_same_state_refuses_to_start(tmp_path: Path) -> None:
    first = claim(tmp_path / "w1" / "RUNNING")
    try:
        with pytest.raises(ConfigError, match="another --name"):
            claim(tmp_path / "w1" / "RUNNING")
    finally:
        first.close()
    claim(tmp_path / "w1" / "RUNNING").close()  # free again once the first one is gone

"""All of a worker's RocksDB databases share one block cache and one memtable budget
(``streams.faust_hooks.share_rocksdb_memory``), opened the way Faust opens a table's."""

from __future__ import annotations

import time
from pathlib import Path

from faust.stores.rocksdb import RocksDBOptions

from streams.context import ROCKSDB, ROCKSDB_SHARED_CACHE, ROCKSDB_SHARED_WRITE_BUFFERS
from streams.faust_hooks import share_rocksdb_memory


def _ssts(path: Path) -> int:
    return len(list(path.glob("*.sst")))


def test_databases_flush_once_their_memtables_together_pass_the_shared_budget(tmp_path: Path) -> None:
    cache, buffers = share_rocksdb_memory(ROCKSDB_SHARED_CACHE, ROCKSDB_SHARED_WRITE_BUFFERS)
    budget = buffers.get_buffer_size()
    # memtables as large as the whole budget: a database alone never fills its own here
    options = RocksDBOptions(write_buffer_size=budget, max_write_buffer_number=2,
                             block_cache_size=ROCKSDB["block_cache_size"], use_rocksdict=True)
    value = b"v" * 1000
    per_db = budget // 2  # three of them: 1.5x the budget together
    dbs = [options.open(tmp_path / f"table-{i}.db") for i in range(3)]
    try:
        for db in dbs:
            for n in range(per_db // len(value)):
                db[n.to_bytes(4, "big")] = value
        # RocksDB flushes in its background thread: on a busy machine the files come later
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (
                sum(_ssts(tmp_path / f"table-{i}.db") for i in range(3)) >= 1
                and buffers.get_usage() <= budget * 1.1):
            time.sleep(0.05)
        assert sum(_ssts(tmp_path / f"table-{i}.db") for i in range(3)) >= 1, \
            "nothing was flushed: the databases do not share the write buffer budget"
        assert buffers.get_usage() <= budget * 1.1
        before = cache.get_usage()
        for db in dbs:
            for n in range(0, per_db // len(value), 7):
                assert db[n.to_bytes(4, "big")] == value
        assert cache.get_usage() > before, "reads did not go through the shared block cache"
    finally:
        for db in dbs:
            db.close()


def test_the_budget_is_set_once_per_process() -> None:
    first = share_rocksdb_memory(ROCKSDB_SHARED_CACHE, ROCKSDB_SHARED_WRITE_BUFFERS)
    again = share_rocksdb_memory(1024, 1024)
    assert again == first

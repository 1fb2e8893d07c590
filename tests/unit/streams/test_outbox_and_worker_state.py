"""The outbox's partitioner and shared queue, and the worker's handling of state left by a dead worker."""

from __future__ import annotations

import asyncio
import types
from pathlib import Path

import pytest

from bus.errors import ConfigError
from streams.outbox import Outbox
from streams.worker import claim, discard_unclean_state

# Kafka's own test vectors for Utils.murmur2 (signed 32-bit, as Java returns them).
JAVA_MURMUR2 = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
                b"a-little-bit-longer-string": -1486304829,
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, b"abc": 479470107}


@pytest.mark.parametrize("partitions", [1, 3, 4, 6, 12, 32, 100])
def test_a_key_goes_to_the_partition_java_clients_pick(partitions: int) -> None:
    outbox = Outbox(app=None)
    for key, signed in JAVA_MURMUR2.items():
        assert outbox.partition(key, partitions) == (signed & 0x7FFFFFFF) % partitions


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


class _Batch:
    """A record batch of at most two records, as aiokafka's builder answers: None when full."""

    def __init__(self) -> None:
        self.records: list[bytes | None] = []

    def append(self, *, key: bytes | None, value: bytes | None, timestamp: None, headers: object) -> object:
        if len(self.records) == 2:
            return None
        self.records.append(value)
        return object()


class _Producer:
    """Hands batches on at once, except while ``hold`` names their partition: then it waits
    (as aiokafka does while a full batch of the partition waits for the broker) or raises."""

    def __init__(self) -> None:
        self.handed: dict[tuple[str, int], list[bytes | None]] = {}
        self.hold: tuple[str, int] | None = None
        self.fail: Exception | None = None
        self.waiting = asyncio.Event()
        self.release = asyncio.Event()

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> asyncio.Future[object]:
        if self.hold == (topic, partition):
            self.hold = None
            if self.fail is not None:
                raise self.fail
            self.waiting.set()
            await self.release.wait()
        self.handed.setdefault((topic, partition), []).extend(batch.records)
        done: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        done.set_result(types.SimpleNamespace(offset=0))
        return done


def _outbox(producer: _Producer) -> Outbox:
    app = types.SimpleNamespace(producer=types.SimpleNamespace(_ensure_producer=lambda: producer))
    return Outbox(app)


def test_a_flush_cancelled_halfway_leaves_the_next_flush_everything_it_had_not_handed_on() -> None:
    """Agents and timers share the outbox; a worker stopping cancels them while one of them
    sends what the others queued. A flush that then returns must have handed on all of it:
    an agent commits its batch after its flush returns."""

    async def play() -> tuple[dict[tuple[str, int], list[bytes | None]], bool]:
        producer = _Producer()
        outbox = _outbox(producer)
        for value in (b"a1", b"a2", b"a3"):
            outbox.add("t", 0, b"k", value)
        outbox.add("t", 1, b"k", b"a4")
        producer.hold = ("t", 0)  # a1 a2 go in the first batch; a3's batch waits
        first = asyncio.create_task(outbox.flush())
        await producer.waiting.wait()
        outbox.add("t", 0, b"k", b"b1")  # another agent's records, queued meanwhile
        outbox.add("t", 1, b"k", b"b2")
        second = asyncio.create_task(outbox.flush())
        await asyncio.sleep(0)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await second
        return producer.handed, first.cancelled()

    handed, cancelled = asyncio.run(play())
    assert cancelled
    assert handed == {("t", 0): [b"a1", b"a2", b"a3", b"b1"], ("t", 1): [b"a4", b"b2"]}


def test_a_flush_that_fails_leaves_its_records_to_the_next_flush() -> None:
    async def play() -> tuple[dict[tuple[str, int], list[bytes | None]], str]:
        producer = _Producer()
        outbox = _outbox(producer)
        outbox.add("t", 0, b"k", b"a1")
        outbox.add("t", 1, b"k", b"a2")
        producer.hold, producer.fail = ("t", 1), TimeoutError("no slot for the batch in time")
        with pytest.raises(TimeoutError) as failed:
            await outbox.flush()
        outbox.add("t", 1, b"k", b"b1")
        await outbox.flush()
        return producer.handed, str(failed.value)

    handed, error = asyncio.run(play())
    assert error == "no slot for the batch in time"
    assert handed == {("t", 0): [b"a1"], ("t", 1): [b"a2", b"b1"]}

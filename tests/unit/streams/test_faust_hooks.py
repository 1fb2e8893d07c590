"""The worker checks at start-up that every Faust and aiokafka internal it hooks into exists."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiokafka
import faust.streams
import pytest
from faust.transport.producer import ProducerBuffer
from faust.types import TP

from bus.errors import ConfigError
from bus.settings import Settings
from streams import delivery, faust_hooks
from streams.faust_hooks import HOOKS, PINNED, check_hooks
from streams.worker import run_worker

REPO = Path(__file__).resolve().parents[3]


def unreachable(tmp_path: Path) -> Settings:
    return Settings.model_validate({"kafka": {"bootstrap_servers": "127.0.0.1:1"},
                                    "registry": {"url": "http://127.0.0.1:1"},
                                    "streams": {"data_dir": str(tmp_path)}})


def test_every_hooked_attribute_exists_in_the_installed_versions() -> None:
    check_hooks()
    assert {h.package for h in HOOKS} == set(PINNED)


def test_the_pins_checked_are_the_pins_of_the_project() -> None:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {m.group(1): m.group(2) for d in deps if (m := re.fullmatch(r"([\w-]+)(?:\[\w+\])?==([\w.]+)", d))}
    assert {p: pins.get(p) for p in PINNED} == PINNED


def test_a_worker_refuses_to_start_when_faust_lost_a_hooked_attribute(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delattr(ProducerBuffer, "max_messages")
    with pytest.raises(ConfigError) as caught:
        run_worker(unreachable(tmp_path))  # refused before it looks for Kafka
    message = str(caught.value)
    assert "faust.transport.producer.ProducerBuffer.max_messages" in message
    assert "faust-streaming 0.15.3 (pinned 0.15.3)" in message and "aiokafka 0.14.0 (pinned 0.14.0)" in message
    assert "'faust-streaming[rocksdict]==0.15.3' 'aiokafka==0.14.0'" in message
    assert not (tmp_path / "w1").exists()  # nothing was built


def test_the_error_names_the_upgrade_that_removed_the_current_event_variable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(faust.streams, "_current_event")
    monkeypatch.setattr(faust_hooks, "installed", lambda p: "0.16.0" if p == "faust-streaming" else PINNED[p])
    with pytest.raises(ConfigError, match=r"faust\.streams\._current_event \(table access in a take_events "
                                          r"batch \(faust#497\)\) is gone: broken by the upgrade of "
                                          r"faust-streaming from 0\.15\.3 to 0\.16\.0"):
        check_hooks()


def test_a_consumer_that_no_longer_reads_its_fetch_settings_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    async def start(self: Any) -> None:
        return None  # an aiokafka whose fetcher no longer takes _fetch_min_bytes

    monkeypatch.setattr(aiokafka.AIOKafkaConsumer, "start", start)
    with pytest.raises(ConfigError) as caught:
        check_hooks()
    assert "aiokafka.AIOKafkaConsumer._fetch_min_bytes (fetch tuning) is gone" in str(caught.value)
    assert "aiokafka.AIOKafkaConsumer._fetch_max_wait_ms (fetch tuning) is gone" in str(caught.value)
    assert "ProducerBuffer" not in str(caught.value)


class _FakeFaustConsumer:
    """What ``drain_messages`` reads of Faust's consumer: one fetch of ``messages``, then stop."""

    consumer_stopped_errors = (RuntimeError,)

    def __init__(self, messages: list[Any], callback: Any) -> None:
        import asyncio

        from mode.utils.locks import Event

        self._stopped, self.suspend_flow = asyncio.Event(), Event()
        self.should_stop = False
        self.callback, self._messages = callback, messages
        self._read_offset: dict[Any, int | None] = {"tp": None}
        self._commit_every, self._n_acked = None, 0
        self.diag = type("Diag", (), {"set_flag": lambda *a: None, "unset_flag": lambda *a: None})()
        self.app = type("App", (), {"topics": type("T", (), {"acks_enabled_for": lambda *a: True})(),
                                    "on_partitions_revoked": type("S", (), {"connect": lambda *a: None})()})()

    async def sleep(self, s: float) -> None:
        return None

    async def wait_first(self, *coros: Any) -> None:
        import asyncio

        tasks = [asyncio.ensure_future(c if not hasattr(c, "wait") else c.wait()) for c in coros]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        for t in done:
            t.result()

    def getmany(self, timeout: float) -> Any:
        messages, self._messages = self._messages, []
        if not messages:
            self._stopped.set()

        async def it() -> Any:
            for m in messages:
                yield "tp", m
        return it()


def test_messages_are_delivered_in_order_whether_their_delivery_finishes_at_once_or_has_to_wait() -> None:
    import asyncio
    from types import SimpleNamespace

    delivered: list[int] = []

    async def scenario() -> None:
        gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

        async def deliver(message: Any) -> None:
            if message.offset == 2:  # a full queue: this delivery waits, the loop with it
                delivered.append(int(await gate == "open") * 100 + message.offset)
                return
            delivered.append(message.offset)

        consumer = _FakeFaustConsumer([SimpleNamespace(offset=i, topic="t") for i in range(5)], deliver)
        fetcher = SimpleNamespace(_stopped=asyncio.Event())
        loop_task = asyncio.ensure_future(delivery.drain_messages(consumer, fetcher))
        await asyncio.sleep(0.01)
        assert delivered == [0, 1]  # the third waits, and nothing after it overtakes it
        gate.set_result("open")
        await asyncio.wait_for(loop_task, 5)
        assert delivered == [0, 1, 102, 3, 4]
        assert consumer._read_offset["tp"] == 4

    asyncio.run(scenario())


def test_messages_fetched_again_behind_the_read_offset_are_delivered() -> None:
    """After a rebalance's seek back to the committed offset, messages delivered before
    the seek can have moved the read offset ahead; Faust dropped the fetch from the
    committed offset up to there, facts nobody applied among them."""
    import asyncio
    from types import SimpleNamespace

    delivered: list[int] = []

    async def scenario() -> None:
        async def deliver(message: Any) -> None:
            delivered.append(message.offset)

        consumer = _FakeFaustConsumer([SimpleNamespace(offset=i, topic="t") for i in range(5)], deliver)
        consumer._read_offset["tp"] = 708  # moved ahead by messages delivered after the seek
        await asyncio.wait_for(delivery.drain_messages(consumer, SimpleNamespace(_stopped=asyncio.Event())), 5)

    asyncio.run(scenario())
    assert delivered == [0, 1, 2, 3, 4]


_TP = TP("t", 0)


class _LogConsumer(_FakeFaustConsumer):
    """One partition's log (``offsets``; the offsets missing are holes in it) fetched ``size``
    records at a time from the position, as aiokafka does; ``seek`` moves the position and
    the read offset as Faust's does. ``under_way``: a first fetch from where an earlier
    position had got to."""

    def __init__(self, offsets: list[int], callback: Any, *, read: int | None, position: int,
                 under_way: Sequence[int] = (), size: int = 4) -> None:
        super().__init__([], callback)
        self.offsets, self.position, self.size, self.under_way = sorted(offsets), position, size, list(under_way)
        self._read_offset = {_TP: read}
        self.gaps: list[tuple[int, int]] = []
        self.seeks: list[int] = []

    def getmany(self, timeout: float) -> Any:
        from types import SimpleNamespace

        if self.under_way:
            fetched, self.under_way = self.under_way, []
        else:
            fetched = [o for o in self.offsets if o >= self.position][:self.size]
            self.position = fetched[-1] + 1 if fetched else self.position
        if not fetched:
            self._stopped.set()

        async def it() -> Any:
            for o in fetched:
                yield _TP, SimpleNamespace(offset=o, topic="t")
        return it()

    async def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append(offset)
        self.position = offset
        self._read_offset[tp] = offset or None

    async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
        self.gaps.append((offset_from, offset_to))


def _drain_log(consumer: _LogConsumer) -> None:
    import asyncio
    from types import SimpleNamespace

    asyncio.run(asyncio.wait_for(delivery.drain_messages(consumer, SimpleNamespace(_stopped=asyncio.Event())), 5))


def test_a_fetch_that_jumps_past_the_read_offset_is_fetched_again_from_there_not_skipped_as_a_gap() -> None:
    """A rebalance's seek resets the read offset to the committed offset (358) while a fetch
    from where the position had got to (1129) is under way (seen in the loaded acceptance
    runs): Faust takes 359-1128 for a gap, and its next commit goes past them whether or
    not they were applied. Here the partition is fetched again from 358."""
    delivered: list[int] = []

    async def deliver(message: Any) -> None:
        delivered.append(message.offset)

    consumer = _LogConsumer(list(range(1200)), deliver, read=358, position=1133,
                            under_way=[1129, 1130, 1131, 1132], size=100)
    _drain_log(consumer)
    assert consumer.gaps == []
    assert consumer.seeks == [358]
    assert delivered == list(range(358, 1200))


def test_a_real_gap_in_the_log_is_taken_for_one_after_one_fetch_more() -> None:
    """Offsets 10-19 hold nothing (an aborted transaction, compaction): fetched again from
    the read offset, the log jumps again, and only then are they a gap."""
    delivered: list[int] = []

    async def deliver(message: Any) -> None:
        delivered.append(message.offset)

    consumer = _LogConsumer([*range(10), *range(20, 30)], deliver, read=None, position=0)
    _drain_log(consumer)
    assert consumer.seeks == [9]
    assert consumer.gaps == [(10, 20)]
    assert delivered == [*range(10), 9, *range(20, 30)]  # 9 again: applied once by the agents


def _run_log(offsets: list[int], *, read: int | None, position: int, under_way: Sequence[int],
             starts: dict[Any, int] | None = None) -> tuple[list[int], _LogConsumer]:
    """What the delivery loop delivers of a partition's log (``_LogConsumer``), in order."""
    delivered: list[int] = []

    async def deliver(message: Any) -> None:
        delivered.append(message.offset)

    consumer = _LogConsumer(offsets, deliver, read=read, position=position, under_way=under_way, size=100)
    if starts is not None:
        delivery.sought_to_start(consumer, starts)
    _drain_log(consumer)
    return delivered, consumer


def test_a_partition_sought_to_its_log_start_is_not_delivered_past_it_first() -> None:
    """Nothing was committed for the partition: the rebalance seeks it to its log start
    and Faust empties its read offset, while a fetch from 266 is under way (a loaded
    two-worker run applied 266-627 before 39-265, which the state values then refused)."""
    delivered, consumer = _run_log(list(range(400)), read=None, position=270,
                                   under_way=[266, 267, 268, 269], starts={_TP: 0})
    assert consumer.seeks == [0]
    assert consumer.gaps == []
    assert delivered == list(range(400))


def test_a_fetch_under_way_that_resumes_one_past_the_committed_offset_is_fetched_again_from_it() -> None:
    """A rebalance sought the partition to its committed offset, 358 (the next to read),
    while a fetch from 359 was under way. Judged from Faust's read offset, which it sets to
    358 as if 358 had been delivered, 359 is no jump: 358 was never applied, and Faust's
    commit goes past one unacknowledged offset. Judged from where the delivery must begin,
    it is fetched again from 358."""
    delivered, consumer = _run_log(list(range(400)), read=None, position=363,
                                   under_way=[359, 360, 361, 362], starts={_TP: 358})
    assert consumer.seeks == [358]
    assert delivered == list(range(358, 400))
    as_faust_left_it, _ = _run_log(list(range(400)), read=358, position=363, under_way=[359, 360, 361, 362])
    assert 358 not in as_faust_left_it  # the hole


def test_a_log_start_moved_on_by_retention_is_where_the_partition_is_fetched_from() -> None:
    delivered, consumer = _run_log(list(range(50, 400)), read=None, position=304,
                                   under_way=[300, 301, 302, 303], starts={_TP: 50})
    assert consumer.seeks == [50]
    assert consumer.gaps == []
    assert delivered == list(range(50, 400))


def test_a_jump_from_read_offset_0_is_fetched_again_too() -> None:
    delivered, consumer = _run_log(list(range(600)), read=0, position=504, under_way=[500, 501, 502, 503])
    assert consumer.seeks == [0]
    assert consumer.gaps == []
    assert delivered == list(range(600))  # 0 again: applied once by the agents


def test_after_a_rebalance_a_jump_is_fetched_again_even_from_the_offset_sought_before() -> None:
    """A rebalance seeks every partition to its committed offset, which can be the offset
    this worker had sought back to: a jump after it is fetched again, not taken for a gap."""
    import asyncio

    consumer = _LogConsumer(list(range(100)), None, read=None, position=0)
    jumps = delivery.Jumps(consumer)

    async def scenario() -> None:
        assert not await jumps.deliver(_TP, 40, 90)  # sought back to 40
        jumps.stale.clear()  # the next fetch
        await jumps.revoked(None, {_TP})
        assert not await jumps.deliver(_TP, 40, 95)  # the new owner's read offset is 40 again

    asyncio.run(scenario())
    assert consumer.seeks == [40, 40]
    assert consumer.gaps == []


def test_a_delivery_that_fails_after_waiting_stops_the_loop_with_its_error() -> None:
    import asyncio
    from types import SimpleNamespace

    async def scenario() -> None:
        async def deliver(message: Any) -> None:
            await asyncio.sleep(0)
            raise ValueError(f"cannot deliver {message.offset}")

        consumer = _FakeFaustConsumer([SimpleNamespace(offset=7, topic="t")], deliver)
        with pytest.raises(ValueError, match="cannot deliver 7"):
            await delivery.drain_messages(consumer, SimpleNamespace(_stopped=asyncio.Event()))

    asyncio.run(scenario())

"""A flush of Faust's changelog buffer, which every offset commit and every revocation
waits for, returns only once every buffered table write is with the producer.

The producer here is the one outside part: a channel whose send is held 0.15 s, as
aiokafka holds a send while a full batch of its partition waits for a busy broker. The
buffer, its task and its flush are Faust's, started as the worker starts them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from faust.transport.producer import ProducerBuffer
from prometheus_client import CollectorRegistry

from bus.settings import Settings
from streams import faust_hooks
from streams.app import create_app

# Faust's own, taken when the tests are collected (before any test builds a worker's app).
FAUST_FLUSH, FAUST_SEND = ProducerBuffer.flush, ProducerBuffer._send_pending
assert not getattr(ProducerBuffer, "_flushes_fully", False), "collected after a worker's app was built"


@pytest.fixture
def faust_as_shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faust's buffer without the worker's flush (restored after the test)."""
    monkeypatch.setattr(ProducerBuffer, "flush", FAUST_FLUSH)
    monkeypatch.setattr(ProducerBuffer, "_send_pending", FAUST_SEND)
    monkeypatch.setattr(ProducerBuffer, "_flushes_fully", False, raising=False)


class SlowProducer:
    """Takes each write after ``hold`` seconds, in order."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.taken: list[int] = []

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(self.hold)
        self.taken.append(fut.message.value)


async def buffered_then_flushed(app: Any, writes: int) -> tuple[list[int], int]:
    """Put ``writes`` table writes in ``app``'s changelog buffer, flush it as a commit does;
    returns the writes the producer has and how many are still buffered."""
    buffer = app.producer.buffer
    producer = SlowProducer(hold=0.15)
    await buffer.start()
    try:
        for value in range(writes):
            buffer.put(SimpleNamespace(message=SimpleNamespace(channel=producer, value=value)))
        await buffer.flush()
        return list(producer.taken), buffer.size
    finally:
        while buffer.size:  # Faust refuses to stop a buffer that holds writes
            await asyncio.sleep(0.05)
        await buffer.stop()


def test_faust_as_shipped_flushes_with_writes_still_buffered(faust_as_shipped: None) -> None:
    """The control: the defect the worker's flush mends."""
    app = faust.App("flush-as-shipped", broker="kafka://127.0.0.1:1", store="memory://")
    taken, left = asyncio.run(buffered_then_flushed(app, 5))
    # it gave up while the first write was being handed on: a commit would go on from here
    assert (taken, left) == ([], 4)


def test_a_flush_returns_once_every_write_is_with_the_producer(faust_as_shipped: None) -> None:
    faust_hooks.flush_changelog_fully()
    app = faust.App("flush-fully", broker="kafka://127.0.0.1:1", store="memory://")
    taken, left = asyncio.run(buffered_then_flushed(app, 5))
    assert taken == [0, 1, 2, 3, 4]
    assert left == 0


def test_the_worker_flushes_its_changelog_buffer_fully(faust_as_shipped: None, tmp_path: Path) -> None:
    built = create_app(Settings.model_validate({"streams": {"data_dir": str(tmp_path)}}),
                       registry=CollectorRegistry())
    taken, left = asyncio.run(buffered_then_flushed(built.app, 3))
    assert (taken, left) == ([0, 1, 2], 0)

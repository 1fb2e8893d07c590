"""After a rebalance the worker fetches every partition again from its committed offset,
also a partition nothing was committed for yet: on the real broker with aiokafka.

What a user would notice if this went wrong: a fresh group's workers rebalance (a second
worker joins) before their first commit, a worker keeps a partition whose facts it had
fetched and dropped with the rebalance, and those facts are never applied; later commits
go past them (found by the two-worker acceptance test: 1,000 facts missing on a loaded
machine). aiokafka's ``seek_to_committed`` seeks only partitions that have a committed
offset; ``streams.faust_hooks.fetching_consumer`` seeks the others to their beginning.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from confluent_kafka.admin import NewTopic
from faust.types import TP

from bus.kafka import make_admin, make_producer
from bus.settings import Settings
from streams import delivery, tuning

pytestmark = [pytest.mark.integration]

RECORDS = 500


class _Thread:
    """Faust's consumer thread as far as seeking goes, on a real aiokafka consumer."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self.consumer = consumer

    async def seek_to_committed(self) -> Any:
        return await self.consumer.seek_to_committed()

    async def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        await self.consumer.seek_to_beginning(*partitions)

    async def earliest_offsets(self, *partitions: TopicPartition) -> Any:
        return await self.consumer.beginning_offsets(partitions)


def _topic(settings: Settings) -> str:
    name = f"seek-{uuid.uuid4().hex[:8]}"
    admin = make_admin(settings.kafka)  # held: a collected client never completes its futures
    admin.create_topics([NewTopic(name, 1, 1)])[name].result(timeout=30)
    producer = make_producer(settings.kafka)
    for i in range(RECORDS):
        producer.produce(name, key=b"pid", value=b"%d" % i)
    assert producer.flush(30) == 0
    return name


async def _position_after_rebalance_seek(settings: Settings, topic: str, committed: int | None,
                                         worker: bool) -> tuple[int, Any]:
    """Fetch the whole partition (offsets ``committed`` committed first, if any), then seek
    as Faust does after a rebalance; the position the next fetch starts from, and (read
    offset, where to fetch again from) by which the delivery loop judges a jump then."""
    k = settings.kafka
    password = k.sasl_password.get_secret_value() if k.sasl_password else None
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=k.bootstrap_servers, group_id=f"g-{uuid.uuid4().hex[:6]}",
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                security_protocol=k.security_protocol, sasl_mechanism=k.sasl_mechanism or "PLAIN",
                                sasl_plain_username=k.sasl_username, sasl_plain_password=password)
    await consumer.start()
    try:
        consumer.assign([tp])
        if committed is not None:
            await consumer.commit({tp: committed})
        fetched = 0
        while fetched < RECORDS - (committed or 0):
            fetched += sum(len(v) for v in (await consumer.getmany(timeout_ms=1000)).values())
        assert await consumer.position(tp) == RECORDS  # fetched; a rebalance then drops them
        app = faust.App(f"seek-{uuid.uuid4().hex[:6]}", broker="kafka://127.0.0.1:1", store="memory://")
        if worker:
            tuning.tune(app)  # the worker's consumer (streams.faust_hooks.fetching_consumer)
        app.topic(topic, key_serializer="raw", value_serializer="raw").stream()
        await app.topics._update_indices()  # the topic's messages are acknowledged (committed)
        faust_consumer: Any = app.consumer
        faust_consumer._thread = _Thread(consumer)
        await faust_consumer.perform_seek()
        judged = delivery.Jumps(faust_consumer).read_offset(TP(topic, 0), faust_consumer._read_offset[tp])
        return int(await consumer.position(tp)), judged
    finally:
        await consumer.stop()


@pytest.mark.parametrize("committed", [None, 0, 120])
def test_a_partition_is_fetched_again_from_its_committed_offset_or_its_beginning(
        bus_settings: Settings, committed: int | None) -> None:
    topic = _topic(bus_settings)
    position, judged = asyncio.run(_position_after_rebalance_seek(bus_settings, topic, committed, worker=True))
    start = committed or 0
    assert position == start
    # the delivery loop judges a fetch under way from further on against where the delivery
    # must begin: one offset past it is a jump too. Faust as shipped left the read offset
    # at the committed offset (the next to read), judged (120, 120): a fetch resuming at 121
    # was delivered, and 120 never (for a partition sought to its beginning it judged
    # nothing at all)
    assert judged == (start - 1, start)


def test_faust_as_shipped_leaves_a_partition_never_committed_where_its_fetches_got_to(
        bus_settings: Settings) -> None:
    """The hole this closes, on the same broker: without the worker's consumer the dropped
    records are never fetched again."""
    topic = _topic(bus_settings)
    position, _ = asyncio.run(_position_after_rebalance_seek(bus_settings, topic, None, worker=False))
    assert position == RECORDS

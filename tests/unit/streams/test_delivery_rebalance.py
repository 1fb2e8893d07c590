"""``streams.delivery.drain`` across a rebalance, on a real Faust app and consumer (not
started: the messages are handed to its conductor as its fetcher would hand them).

What a user would notice if this went wrong: a worker commits offsets of facts it never
applied, and the partition's next owner starts after them (tickets missing for good).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from aiokafka.structs import ConsumerRecord
from faust.types import TP

from streams.delivery import drain

TOPIC = "participation.facts"
TP0 = TP(TOPIC, 0)


class Rig:
    """A Faust app whose agent reads ``TOPIC`` through ``drain``, recording what it applies."""

    def __init__(self) -> None:
        self.app = faust.App("drain-rebalance", broker="kafka://127.0.0.1:1", store="memory://")
        self.consumer: Any = self.app.consumer
        self.stream = self.app.topic(TOPIC, partitions=1, key_serializer="raw", value_serializer="raw").stream()
        self.applied: list[tuple[int, int]] = []  # (offset, generation)
        self.app.flow_control.resume()  # as Faust does once partitions are assigned
        self.sought: list[tuple[TP, int]] = []  # seeks the agent asked of the consumer

        async def seek(tp: TP, offset: int) -> None:
            self.sought.append((tp, offset))

        self.consumer.seek = seek

    async def start(self, within: float, work: Callable[[], Awaitable[None]] | None = None) -> asyncio.Task[None]:
        """Start the agent (``work``: awaited after each batch is recorded as applied)."""
        async def agent() -> None:
            async for batch in drain(self.stream, 100, within):
                self.applied.extend((e.message.offset, e.message.generation_id) for e in batch)
                if work is not None:
                    await work()

        task = asyncio.ensure_future(agent())
        await asyncio.sleep(0.01)  # the agent has subscribed its topic
        conductor: Any = self.app.topics
        await conductor._update_indices()  # what the consumer does when it subscribes
        await conductor.on_partitions_assigned({TP0})
        self.consumer.assignment = lambda: {TP0}  # as the started consumer answers
        return task

    async def fetched(self, *offsets: int) -> list[Any]:
        """Hand records at ``offsets`` to the conductor, as the consumer's fetcher does."""
        messages = []
        for offset in offsets:
            record = ConsumerRecord(TOPIC, 0, offset, 0, 0, b"pid", b"fact", None, 3, 4, [])
            message = self.consumer._to_message(TP0, record)
            await self.app.topics.on_message(message)
            messages.append(message)
        return messages

    async def revoke(self) -> None:
        """Faust's revocation as far as delivery sees it: the consumer forgets what was
        acknowledged for the partitions, then the app suspends the flow and empties the queues."""
        async def app_revoked(revoked: Any) -> None:
            self.app.flow_control.suspend()
            self.app.flow_control.clear()

        self.consumer._on_partitions_revoked = app_revoked
        await self.consumer.on_partitions_revoked({TP0})

    def committable(self) -> dict[TP, int]:
        """What the consumer's next commit would write (Faust's own calculation)."""
        return self.consumer._filter_committable_offsets({TP0})


def test_a_batch_applied_is_committed_up_to_its_last_offset() -> None:
    async def scenario() -> None:
        rig = Rig()
        task = await rig.start(within=0.01)
        await rig.fetched(0, 1, 2, 3, 4)
        await asyncio.sleep(0.1)
        assert rig.applied == [(o, 0) for o in range(5)]
        assert rig.committable() == {TP0: 5}
        task.cancel()

    asyncio.run(scenario())


def test_a_rebalance_that_begins_while_a_batch_is_taken_commits_none_of_it() -> None:
    async def scenario() -> None:
        rig = Rig()
        task = await rig.start(within=0.5)  # the batch is still filling when the revocation begins
        messages = await rig.fetched(0, 1, 2, 3, 4)
        await asyncio.sleep(0.05)
        await rig.revoke()
        await asyncio.sleep(0.6)
        assert rig.applied == []
        assert rig.committable() == {}, "offsets of facts nobody applied would be committed"
        assert not any(m.acked for m in messages)
        assert not rig.consumer._unacked_messages, "the revocation's wait for acks would wait on them"
        task.cancel()

    asyncio.run(scenario())


def test_events_of_an_earlier_generation_are_left_to_be_fetched_again() -> None:
    async def scenario() -> None:
        rig = Rig()
        task = await rig.start(within=0.2)
        old = await rig.fetched(0, 1, 2)
        rig.app.consumer_generation_id = 1  # the rebalance ended while they waited in the queue
        await asyncio.sleep(0.3)
        assert rig.applied == []
        assert rig.committable() == {}
        assert not any(m.acked for m in old)
        await rig.fetched(0, 1, 2)  # fetched again from the committed offset
        await asyncio.sleep(0.3)
        assert rig.applied == [(0, 1), (1, 1), (2, 1)]
        assert rig.committable() == {TP0: 3}
        task.cancel()

    asyncio.run(scenario())


def test_nothing_past_a_message_left_out_is_applied_until_it_is_fetched_again() -> None:
    """Seen on a loaded machine: after a rebalance a worker got later messages of a
    partition while those it had left out were not fetched again; it applied the later
    ones, and a state value never applies facts before the last it applied."""
    async def scenario() -> None:
        rig = Rig()
        sought = rig.sought
        task = await rig.start(within=0.2)
        await rig.fetched(0, 1, 2)
        rig.app.consumer_generation_id = 1  # left out: fetched in the generation before
        await asyncio.sleep(0.3)
        await rig.fetched(3, 4)  # later ones, without 0-2 fetched again
        await asyncio.sleep(0.3)
        assert rig.applied == []
        assert sought == [(TP0, 0)], "the partition is sought back to the first left out"
        assert rig.committable() == {}
        await rig.fetched(0, 1, 2, 3, 4)  # fetched again from there
        await asyncio.sleep(0.3)
        assert rig.applied == [(o, 1) for o in range(5)]
        assert rig.committable() == {TP0: 5}
        task.cancel()

    asyncio.run(scenario())


def test_a_partition_given_to_another_worker_is_not_sought_back() -> None:
    async def scenario() -> None:
        rig = Rig()
        sought = rig.sought
        task = await rig.start(within=0.2)
        await rig.fetched(0, 1, 2)
        rig.app.consumer_generation_id = 1
        await asyncio.sleep(0.3)
        await rig.app.on_partitions_assigned.send(set())  # the partition went to another worker
        rig.app.consumer_generation_id = 2
        await asyncio.sleep(0.1)
        await rig.fetched(7, 8)  # it came back later: its new committed offset is 7
        await asyncio.sleep(0.3)
        assert sought == []
        assert rig.applied == [(7, 2), (8, 2)]
        task.cancel()

    asyncio.run(scenario())


def test_a_batch_whose_work_is_interrupted_is_not_committed() -> None:
    """A worker told to stop (SIGTERM: Faust cancels the agents, then commits) while a
    batch is half applied: none of the batch may be committed, so the partition's next
    owner applies it again."""
    async def scenario() -> None:
        rig = Rig()
        started = asyncio.Event()

        async def records_on_their_way_to_the_broker() -> None:
            started.set()
            await asyncio.sleep(60)

        task = await rig.start(within=0.01, work=records_on_their_way_to_the_broker)
        messages = await rig.fetched(0, 1, 2)
        await asyncio.wait_for(started.wait(), 5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0.05)  # the generators' finalizers have run
        assert rig.applied == [(0, 0), (1, 0), (2, 0)]
        assert rig.committable() == {}, "offsets of a batch never finished would be committed"
        assert not any(m.acked for m in messages)

    asyncio.run(scenario())

"""Faust's delivery of messages to the agents, as the worker runs it: the two loops every
fact passes, without the per-message tasks and coroutines that cost more than the
worker's own logic did.

Measured (``bench/`` walls part: one Faust agent reading ticket facts in batches and
decoding each with fastavro, 60,000 records, 2-core machine shared with other work,
events per CPU-second): Faust as shipped 6,151; with :func:`drain_messages` 12,478; with
:func:`drain` as well 25,426 (a plain confluent-kafka loop with the same decode: ~63,000).
The whole streams worker went from 1,422 to 2,669 ticket facts per CPU-second with both.

The private Faust attributes these loops read are listed, with why, in
``streams.faust_hooks`` and checked at start-up with the others.
"""

from __future__ import annotations

import asyncio
import types
import weakref
from collections.abc import AsyncIterator, Generator, Mapping
from typing import Any

import faust.transport.consumer as faust_consumer

from bus.log import get_logger

__all__ = ["Jumps", "LeftOut", "drain", "drain_messages", "sought_to_start"]

_log = get_logger("streams")

#: consumer -> partition -> the log start a rebalance sought it to (nothing committed for it)
_LOG_STARTS: weakref.WeakKeyDictionary[Any, dict[Any, int]] = weakref.WeakKeyDictionary()


def sought_to_start(consumer: Any, starts: Mapping[Any, int]) -> None:
    """Tell :func:`drain_messages` that a rebalance sought these partitions to these
    offsets, where their next delivery must begin: the committed offset, or the log start
    of one nothing was committed for. Their read offset is empty then (``streams.faust_hooks``),
    and a fetch under way from further on would be delivered first (:class:`Jumps`)."""
    _LOG_STARTS.setdefault(consumer, {}).update(starts)


async def drain(stream: Any, max_: int, within: float) -> AsyncIterator[list[Any]]:
    """The events of a Faust agent's stream in batches of up to ``max_``, taken from its
    channel's queue: one ``await`` per batch, waiting at most ``within`` seconds to fill a
    batch that has started; each event of a batch is acknowledged (its offset may be
    committed) once the caller asks for the next batch.

    What ``Stream.take_events`` does, without its per-event machinery (a processor
    coroutine, the passive drainer and an ``await`` to acknowledge every event, and a
    timed wait that creates tasks every ``within``): the same queue, the same tracking and
    acknowledgement of messages (``Consumer.track_message``, ``Event.ack``), and the same
    events left out as Faust leaves them out: those of an earlier consumer generation, and
    all of a batch taken while flow control was suspended (a rebalance began). Ends when
    Faust stops the agent's actor (it throws ``StopAsyncIteration`` into the queue).

    Unlike Faust, an event left out is neither tracked nor acknowledged. Faust checks each
    event as it takes it from the queue, and a revocation suspends the flow and empties
    the queues in one step, so the events Faust acknowledges unprocessed are few. A batch
    here is taken over several waits: a revocation can begin after some of its events left
    the queue. Acknowledged, those offsets would be committed by the revocation's own
    commit (it has just forgotten what was acknowledged before), and the partition's next
    owner would start after facts nobody applied (the two-worker acceptance test found
    performances short of their tickets). Left unacknowledged, they are
    fetched again from the committed offset after the rebalance, by whichever worker then
    owns the partition.

    Also unlike Faust, a batch is acknowledged only when the caller asks for the next one,
    never when its work ends otherwise. Faust acknowledges in a ``finally``: a batch whose
    work was cancelled halfway (its state written, its changelog records not yet sent), as
    a stop that does not wait for the streams cancels it, was committed by the stop's
    commit, and the worker taking the partition over never saw its facts.
    """
    app = stream.app
    channel = stream.channel.__aiter__()  # the iterator: registers the topics with the conductor
    queue = channel.queue
    get_nowait, waiting = queue.get_nowait, queue.qsize  # qsize: events only, not thrown errors
    consumer = app.consumer
    track, acking = consumer.track_message, app.topics.acks_enabled_for
    flow = app.flow_control
    left_out = LeftOut(app)
    loop = asyncio.get_running_loop()
    while True:
        try:
            first = await queue.get()
        except StopAsyncIteration:  # thrown into the queue by Faust: the actor is stopping
            return
        taken = [first]
        deadline = loop.time() + within
        while len(taken) < max_:
            if not waiting():
                left = deadline - loop.time()
                if left <= 0:
                    break
                await asyncio.sleep(min(left, 0.001))
                continue
            taken.append(get_nowait())
        if not flow.is_active():
            left_out.leave(taken)  # a rebalance began: fetched again (see above)
            continue
        generation = app.consumer_generation_id
        batch = []
        for event in taken:
            message = event.message
            if message.generation_id != generation:
                left_out.leave([event])  # fetched before the last rebalance: fetched again since
                continue
            if left_out.first and left_out.ahead(message):
                continue  # a message of its partition before it was left out: not applied yet
            if not message.tracked and acking(message.topic):
                message.tracked = True
                track(message)
            batch.append(event)
        if left_out.due:
            await left_out.fetch_again(loop.time())
        if batch:
            yield batch  # not in try/finally: a batch whose work was cancelled is never acked
            for event in batch:
                event.ack()


class LeftOut:
    """The messages :func:`drain` left out, per partition: none of a partition is applied
    past one left out until that one is fetched again.

    A rebalance seeks every partition back to its committed offset, so what was left out
    is normally fetched again before anything after it. But the acceptance tests with
    workers joining and leaving, on a loaded machine, found later messages of a partition
    delivered while earlier ones had been left out and were not fetched again: the later
    ones were applied, the earlier ones never (a state value applies only facts past the
    last offset it applied). Here a message past one left out of its partition is left
    out too, and the partition is sought back to the first one left out: at once, and
    again every ``RESEEK_S`` while it does not come; after ``SEEKS_MAX`` seeks (the log's
    retention deleted it) the worker logs an error and goes on without it."""

    RESEEK_S = 5.0
    SEEKS_MAX = 6

    def __init__(self, app: Any) -> None:
        self.first: dict[Any, int] = {}  # partition -> offset of its first message left out
        self.sought: dict[Any, tuple[int, float]] = {}  # partition -> (seeks made, when the last)
        self.due: set[Any] = set()  # partitions with messages past the first left out
        self.consumer = app.consumer
        app.on_partitions_assigned.connect(self.assigned)

    def leave(self, events: list[Any]) -> None:
        assigned = self.consumer.assignment()
        for event in events:
            tp, offset = event.message.tp, event.message.offset
            if tp in assigned and offset < self.first.get(tp, offset + 1):
                self.first[tp] = offset

    async def assigned(self, app: Any, assigned: Any, **kwargs: Any) -> None:
        """A partition given to another worker is its to fetch again: forget it here."""
        for tp in [tp for tp in self.first if tp not in assigned]:
            del self.first[tp]
            self.sought.pop(tp, None)

    def ahead(self, message: Any) -> bool:
        """Whether ``message`` is past the first message left out of its partition; one at
        or before it is the fetch again, and ends the wait."""
        first = self.first.get(message.tp)
        if first is None:
            return False
        if message.offset > first:
            self.due.add(message.tp)
            return True
        del self.first[message.tp]
        self.sought.pop(message.tp, None)
        return False

    async def fetch_again(self, now: float) -> None:
        """Seek the partitions with messages past their first left out back to it (those
        still assigned, and not sought within ``RESEEK_S``)."""
        due, self.due = self.due, set()
        consumer = self.consumer
        assigned = consumer.assignment()
        for tp in due:
            first = self.first.get(tp)
            seeks, last = self.sought.get(tp, (0, -self.RESEEK_S))
            if first is None or tp not in assigned or now - last < self.RESEEK_S:
                continue
            where = {"topic": tp.topic, "partition": tp.partition, "offset": first}
            if seeks == self.SEEKS_MAX:
                _log.error("messages left out by a rebalance were not fetched again; going on "
                           "without them", extra=where)
                del self.first[tp]
                continue
            self.sought[tp] = (seeks + 1, now)
            _log.warning("messages left out by a rebalance are fetched again", extra=where)
            try:
                await consumer.seek(tp, first)
            except Exception as exc:  # noqa: BLE001 - revoked meanwhile: its next owner fetches it
                _log.warning("could not seek back", extra={**where, "error": repr(exc)[:200]})


class Jumps:
    """Forward jumps in a partition's fetched offsets: fetched again before anything past
    them is delivered.

    Faust takes a message more than one offset past the partition's read offset (the last
    one delivered) for a gap in the log (aborted transactions, compaction) and counts the
    offsets between as done: the next commit goes past them. But a jump is also what a
    rebalance leaves: Faust resumes the partitions before it seeks them to their committed
    offsets and resets their read offsets there, and the fetch under way goes on from
    where it got to. In the acceptance tests on a loaded machine rebalances made such
    jumps, hundreds to thousands of offsets wide, and a commit past messages nobody had
    applied loses them for good. Here the partition is sought back to its read offset
    instead (the message there is delivered again, which the agents apply once), the rest
    of the fetch under way is not delivered for it, and only when the fetch from there
    jumps again are the offsets between a gap.

    After a rebalance's seek a partition's read offset is empty (Faust leaves it empty for
    a partition nothing was committed for, and sets it to the committed offset otherwise,
    the next offset to read, not the last delivered, which ``streams.faust_hooks`` undoes):
    a jump is judged from where the delivery must begin then, its committed offset or log
    start (:func:`sought_to_start`). A loaded two-worker run,
    read back from its broker's log files, had a worker apply a partition's offsets 14-38,
    then 266-627, and 39-265 only after those, too late for the state values; no jump was
    logged, and an empty read offset is the one way past the check found.

    A real gap costs one fetch more and one message delivered twice: on a topic written in
    transactions, that is once per transaction (its commit marker takes an offset), so a
    source should not write one record per transaction.
    """

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.sought: dict[Any, int] = {}  # partition -> the read offset it was sought back to
        self.stale: set[Any] = set()  # partitions sought back during the fetch under way
        #: partition -> its log start, where a rebalance sought it (nothing committed yet)
        self.starts = _LOG_STARTS.setdefault(consumer, {})
        consumer.app.on_partitions_revoked.connect(self.revoked)

    async def revoked(self, app: Any, revoked: Any, **kwargs: Any) -> None:
        """A rebalance seeks every partition to its committed offset (or its log start, when
        nothing is committed: :func:`sought_to_start`): nothing is sought back."""
        self.sought.clear()
        self.starts.clear()

    def read_offset(self, tp: Any, read: int | None) -> tuple[int | None, int | None]:
        """(the read offset to judge a jump by, the offset to fetch again from). Faust's read
        offset is empty after a rebalance sought a partition nothing was committed for to
        its log start: judged from just before the log start then."""
        if read is not None:
            return read, read
        start = self.starts.get(tp)
        return (None, None) if start is None else (start - 1, start)

    async def deliver(self, tp: Any, read: int, offset: int, back: int | None = None) -> bool:
        """Whether to deliver ``offset``, which jumps past ``read`` (adding the gap when it is
        one), or to leave it: its partition is fetched again from ``back`` (``read``)."""
        if tp in self.stale:
            return False
        if self.sought.pop(tp, None) == read:  # fetched again from there: a real gap
            await self.consumer._add_gap(tp, read + 1, offset)
            return True
        where = {"topic": tp.topic, "partition": tp.partition, "offset": read, "fetched": offset}
        try:
            await self.consumer.seek(tp, read if back is None else back)
        except Exception as exc:  # noqa: BLE001 - revoked meanwhile: its next owner fetches it
            _log.warning("could not seek back to the read offset", extra={**where, "error": repr(exc)[:200]})
        else:
            self.sought[tp] = read
            _log.info("the fetch jumped past undelivered messages; fetched again", extra=where)
        self.stale.add(tp)
        return False


@types.coroutine
def _finish(coro: Any, yielded: Any) -> Generator[Any, Any, None]:
    """Go on driving ``coro`` (already started, it yielded ``yielded``) from the awaiting task."""
    while True:
        try:
            sent = yield yielded
        except BaseException as exc:  # noqa: BLE001 - handed to the coroutine, as a task would
            try:
                yielded = coro.throw(exc)
            except StopIteration:
                return
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration:
                return


async def _resume(coro: Any, yielded: Any) -> None:
    await _finish(coro, yielded)


async def drain_messages(consumer: Any, fetcher: Any) -> None:
    """Faust's ``Consumer._drain_messages`` (the loop that hands every fetched message to the
    conductor), delivering a message without four new tasks.

    Faust awaits ``wait_first(callback(message), suspend_flow.wait())`` for every message:
    four tasks (the delivery, the flow-suspended, stopped and crashed events) created and
    cancelled per message, although a delivery is a few ``put_nowait`` calls that finish
    at once unless a queue is full or flow is suspended (a rebalance). Here the delivery
    runs at once in the fetcher's task; only when it has to wait is it finished in a task
    raced against ``suspend_flow`` as Faust does.

    Also unlike Faust, a message behind the partition's read offset (the last one
    delivered) is delivered, not dropped. After a rebalance Faust seeks each partition
    back to its committed offset (or its beginning: ``streams.faust_hooks``) so that what
    the rebalance dropped is fetched again, but the read offset can be ahead of that by
    then (seen in the two-worker acceptance test on a loaded machine: read offset 708, the
    fetch again from 0), and Faust dropped the fetch up to there, 26 facts nobody had
    applied among them, then committed past them. The agents apply a fact delivered
    twice once (``streams.store``). A fetch that jumps ahead of the read offset is fetched
    again from there, not taken for a gap (:class:`Jumps`). Everything else is Faust
    0.15.3's loop.
    """
    callback = consumer.callback
    getmany = consumer.getmany
    consumer_should_stop = consumer._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = consumer._read_offset.__getitem__
    set_read_offset = consumer._read_offset.__setitem__
    set_flag, unset_flag = consumer.diag.set_flag, consumer.diag.unset_flag
    commit_every = consumer._commit_every
    acks_enabled_for = consumer.app.topics.acks_enabled_for
    suspend_flow = consumer.suspend_flow
    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep
    jumps = Jumps(consumer)
    sought, starts, stale = jumps.sought, jumps.starts, jumps.stale
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(faust_consumer.CONSUMER_FETCHING)
            ait = getmany(timeout=1.0)
            jumps.stale.clear()
            await consumer.sleep(0)
            if not consumer.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0
                    if stale and tp in stale:
                        continue  # sought back during this fetch: fetched again (Jumps)
                    offset = message.offset
                    r_offset = back = get_read_offset(tp)
                    if r_offset is None and starts:
                        r_offset, back = jumps.read_offset(tp, r_offset)
                    # Faust drops a message behind the read offset; here it is delivered
                    # (see the docstring): the agents apply a message delivered twice once
                    if r_offset is not None and offset - r_offset > 1 and acks_enabled_for(message.topic):
                        if not await jumps.deliver(tp, r_offset, offset, back):
                            continue  # fetched again from the read offset (Jumps)
                    elif sought and offset > sought.get(tp, offset):
                        del sought[tp]  # fetched again past it without a jump: not a gap
                    if commit_every is not None and consumer._n_acked >= commit_every:
                        consumer._n_acked = 0
                        await consumer.commit()
                    delivery = callback(message)
                    try:
                        yielded = delivery.send(None)
                    except StopIteration:
                        pass
                    else:
                        await consumer.wait_first(_resume(delivery, yielded), suspend_flow.wait())
                    set_read_offset(tp, offset)
                unset_flag(faust_consumer.CONSUMER_FETCHING)
    except consumer.consumer_stopped_errors:
        if consumer.transport.app.should_stop:
            return
        raise
    except asyncio.CancelledError:
        if consumer.transport.app.should_stop:
            return
        raise
    finally:
        unset_flag(faust_consumer.CONSUMER_FETCHING)

"""Every use of a private Faust or aiokafka attribute, in one place (with ``streams.delivery``,
Faust's delivery loop as the worker runs it, and ``streams.faust_producer``, its producer
side), checked at start-up.

faust-streaming and aiokafka are pinned exactly (``PINNED``, the same pins as
``pyproject.toml``) because the worker reaches past their public API in the places below.
``streams.worker`` calls :func:`check_hooks` before Faust starts, so an upgrade that
renames or removes one of them stops the worker with a :class:`~bus.errors.ConfigError`
naming the attribute and the upgrade, instead of failing deep in a batch (or, for
``ProducerBuffer.max_messages``, silently setting an attribute nobody reads).

The hooks, why each is needed, and the upstream issue where there is one:

- ``faust.streams._current_event`` (the current-event variable): Faust ties a table read
  or write to the partition of the event being processed; a batch from
  ``Stream.take_events`` has no such event, so before touching a table the agents name the
  event of the key they are about to touch (:func:`set_current_event`). Upstream:
  faust-streaming/faust#497 ("Writing into Table with Stream.take() not allowed").
- ``Collection.data`` (a table's local store): raw tables read and write RocksDB directly
  and send their changelog writes with the batch (``streams.store``, ``streams.outbox``),
  because Faust's per-key ``__setitem__`` path costs more than the state logic. No upstream
  issue.
- ``faust.stores.rocksdb.Store._db_for_partition``: raw tables read and write the database
  of the partition they work in (:func:`partition_db`). No upstream issue.
- ``faust.stores.rocksdb.Store.set_persisted_offset``: once the outbox's changelog batch
  is on the broker, the table's persisted offset moves on, as Faust's own changelog
  writes do, so recovery starts after what the store already holds. No upstream issue.
- ``faust.transport.drivers.aiokafka.Producer._ensure_producer``: the app's own aiokafka
  producer, so the outbox's record batches go through the producer every offset commit
  flushes first (at-least-once holds). No upstream issue.
- aiokafka's batch API, ``AIOKafkaProducer.create_batch`` / ``send_batch`` and
  ``BatchBuilder.append``: one record batch per topic partition instead of one send (and
  one produce request) per record; Faust exposes no batch send. No upstream issue.
- ``AIOKafkaConsumerThread._create_worker_consumer``, ``Consumer._new_consumer_thread`` and
  the consumer's private ``_fetch_min_bytes`` / ``_fetch_max_wait_ms`` (read by
  ``AIOKafkaConsumer.start``): fetches that wait for data (``streams.tuning``); Faust has
  no setting for them and aiokafka no setter. No upstream issue.
- ``faust.stores.rocksdb.RocksDBOptions.as_options`` (wrapped, class-level): every
  table partition's database shares one block cache and one write buffer manager
  (:func:`share_rocksdb_memory`); Faust makes a cache per database and has no setting for
  a shared one. ~30 databases with a cache and memtables of their own could hold ~16 MB
  each; measured, the worker's peak at 100,000 performances went from 722 to 678 MB. No
  upstream issue.
- ``faust.transport.producer.ProducerBuffer.max_messages`` (class-level): a changelog
  buffer larger than one batch writes; Faust holds every stream back at 100. Upstream:
  faust-streaming/faust#173 ("Warning - producer buffer full").
- ``ProducerBuffer.flush`` and ``_send_pending`` (class-level, with the ``message_sent``
  event and the ``_handle_pending`` task that sets it): a flush that waits until every
  buffered changelog write is handed to the producer (:func:`flush_changelog_fully`).
  Faust's returns as soon as one write takes more than 0.1 s to be handed on (aiokafka
  holds a send while a full batch of that partition waits for the broker), and every
  offset commit and every revocation flushes it before going on. No upstream issue.
- ``ThreadDelegateConsumer._thread`` (``seek_to_beginning`` of Faust's consumer thread):
  every rebalance seeks the partitions back to their committed offsets, and those of the
  messages dropped with the queues are fetched again; aiokafka's ``seek_to_committed``
  leaves a partition without a committed offset where it was, so the worker seeks it to
  its beginning (``earliest``, as a new consumer starts). Without it, on a fresh group
  the facts fetched before the first commit and dropped by a rebalance were never
  applied, and later commits went past them. No upstream issue.
- ``Consumer.perform_seek`` (the seek of every rebalance) and the ``_read_offset`` it
  sets: Faust takes the committed offset, which is the next offset to read, for the last
  one delivered, so a fetch under way that resumes one offset past it is no jump to it,
  and that offset is never applied; its commit check (``Consumer._new_offset``) lets one
  unacknowledged offset pass too. The worker empties those read offsets after the seek,
  and the delivery loop judges the first delivery from where it must begin
  (``streams.delivery.Jumps``). No upstream issue.
- ``faust.transport.consumer.Consumer._commit`` (called once the producer is flushed) and
  ``Producer._new_producer``: no commit past a record the broker refused
  (:func:`guard_commits`); Faust's flush only waits for the answers, whatever they are.
- ``faust.transport.consumer.Consumer._drain_messages`` and the private attributes its loop
  reads: a copy of that loop that delivers a message to the conductor without creating
  four tasks per message (``streams.delivery.drain_messages``). No upstream issue.
- The event bookkeeping of ``Stream._py_aiter`` (``Message.tracked``, the message's and
  the app's consumer generation, flow control): the agents take their batches straight
  from their queue (``streams.delivery.drain``) instead of through ``Stream.take_events``.
  No upstream issue.
- The conductor's ``_flag_changes``, ``_topic_name_index`` and
  ``_resubscribe_sleep_lock_seconds``: vendor tenants' ingest topics created while the
  worker runs are added to the identity agents' topics and subscribed (``streams.ingest``),
  within seconds instead of the conductor's 45 s. Faust's own ``app.topic(pattern=...)``
  subscribes to nothing (the consumer is handed topic names only). Upstream:
  faust-streaming/faust#62 ("Unable to subscribe to topics by pattern").
"""

from __future__ import annotations

import importlib
import importlib.metadata
import weakref
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import faust.stores.rocksdb as faust_rocksdb
import faust.streams
import faust.transport.producer as faust_producer
import rocksdict
from faust.streams import current_event
from faust.transport.drivers import aiokafka as faust_aiokafka

from bus.errors import ConfigError
from streams.delivery import drain_messages, sought_to_start
from streams.faust_producer import (
    _GUARDS,
    FLUSH_STALL_LOG_S,
    flush_changelog_fully,
    guard_commits,
    tracking_producer,
)

__all__ = ["FLUSH_STALL_LOG_S", "HOOKS", "PINNED", "Hook", "check_hooks", "create_batch", "current_event",
           "fetching_consumer", "flush_changelog_fully", "guard_commits", "tracking_producer",
           "mark_persisted", "partition_db", "producer_of", "resubscribe", "send_batch",
           "set_changelog_buffer", "set_current_event", "set_resubscribe_delay", "share_rocksdb_memory",
           "subscribed_topics", "table_store"]

#: The versions tested with these hooks: the exact pins of ``pyproject.toml``.
PINNED = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}
_REQUIREMENTS = "'faust-streaming[rocksdict]==0.15.3' 'aiokafka==0.14.0'"


@dataclass(frozen=True, slots=True)
class Hook:
    """One private attribute the worker relies on.

    Attributes:
        package: the distribution that provides it (a key of ``PINNED``).
        owner: ``module`` or ``module:Class`` that holds it.
        attribute: its name.
        use: what the worker uses it for (named in the start-up error).
        read_in: for an instance attribute: the method of ``owner`` that must still read it.

    """

    package: str
    owner: str
    attribute: str
    use: str
    read_in: str | None = None

    @property
    def name(self) -> str:
        return f"{self.owner.replace(':', '.')}.{self.attribute}"

    def present(self) -> bool:
        module, _, cls = self.owner.partition(":")
        try:
            owner: Any = importlib.import_module(module)
            for part in filter(None, cls.split(".")):
                owner = getattr(owner, part)
            if self.read_in is None:
                return hasattr(owner, self.attribute)
            reader = getattr(owner, self.read_in)
            reader = getattr(reader, "fun", reader)  # a mode ``Service.task`` wraps its function
            return self.attribute in reader.__code__.co_names
        except (ImportError, AttributeError):
            return False


_FAUST, _AIOKAFKA = "faust-streaming", "aiokafka"
_DRIVER = "faust.transport.drivers.aiokafka"

#: Every hook of this module (see the module docstring for why each is needed).
HOOKS = (
    Hook(_FAUST, "faust.streams", "_current_event", "table access in a take_events batch (faust#497)"),
    Hook(_FAUST, "faust.tables.base:Collection", "data", "raw tables read and write their store"),
    Hook(_FAUST, "faust.stores.rocksdb:Store", "set_persisted_offset",
         "the outbox moves a table's persisted offset"),
    Hook(_FAUST, "faust.stores.rocksdb:Store", "_db_for_partition", "raw tables use a partition's database"),
    Hook(_FAUST, f"{_DRIVER}:Producer", "_ensure_producer", "the outbox sends through the app's producer"),
    Hook(_AIOKAFKA, "aiokafka:AIOKafkaProducer", "create_batch", "the outbox builds record batches"),
    Hook(_AIOKAFKA, "aiokafka:AIOKafkaProducer", "send_batch", "the outbox sends record batches"),
    Hook(_AIOKAFKA, "aiokafka.producer.message_accumulator:BatchBuilder", "append",
         "the outbox fills record batches"),
    Hook(_FAUST, f"{_DRIVER}:AIOKafkaConsumerThread", "_create_worker_consumer", "fetch tuning"),
    Hook(_FAUST, f"{_DRIVER}:Consumer", "_new_consumer_thread", "fetch tuning"),
    Hook(_AIOKAFKA, "aiokafka:AIOKafkaConsumer", "_fetch_min_bytes", "fetch tuning", read_in="start"),
    Hook(_AIOKAFKA, "aiokafka:AIOKafkaConsumer", "_fetch_max_wait_ms", "fetch tuning", read_in="start"),
    Hook(_FAUST, "faust.transport.producer:ProducerBuffer", "max_messages", "the changelog buffer size"),
    *(Hook(_FAUST, "faust.transport.producer:ProducerBuffer", name, "a flush that empties the buffer")
      for name in ("flush", "_send_pending", "size", "state")),
    *(Hook(_FAUST, "faust.transport.producer:ProducerBuffer", name, "a flush that empties the buffer",
           read_in="_handle_pending")
      for name in ("_send_pending", "message_sent")),
    Hook(_FAUST, "faust.stores.rocksdb:RocksDBOptions", "as_options", "one RocksDB memory budget"),
    Hook(_FAUST, "faust.stores.rocksdb:RocksDBOptions", "use_rocksdict", "one RocksDB memory budget"),
    Hook(_FAUST, "faust.transport.consumer:Consumer", "_drain_messages", "deliveries without tasks"),
    Hook(_FAUST, "faust.transport.consumer:ThreadDelegateConsumer", "_thread",
         "a partition never committed is fetched again from its beginning", read_in="seek_to_committed"),
    Hook(_FAUST, "faust.transport.consumer:Consumer", "_read_offset",
         "a rebalance's first delivery of a partition is judged from its committed offset",
         read_in="perform_seek"),
    Hook(_FAUST, f"{_DRIVER}:AIOKafkaConsumerThread", "seek_to_beginning",
         "a partition never committed is fetched again from its beginning"),
    Hook(_FAUST, "faust.transport.consumer:Consumer", "_commit", "no commit past undelivered records",
         read_in="_commit_offsets"),
    Hook(_FAUST, f"{_DRIVER}:Producer", "_new_producer", "no commit past undelivered records",
         read_in="on_start"),
    *(Hook(_FAUST, "faust.transport.consumer:Consumer", name, "deliveries without tasks",
           read_in="_drain_messages")
      for name in ("_read_offset", "_add_gap", "_commit_every", "_n_acked", "suspend_flow", "diag",
                   "consumer_stopped_errors")),
    *(Hook(_FAUST, "faust.streams:Stream", name, "batches taken from an agent's queue", read_in="_py_aiter")
      for name in ("tracked", "generation_id", "consumer_generation_id", "flow_control")),
    Hook(_FAUST, "faust.transport.conductor:Conductor", "_flag_changes", "ingest topics added at run time"),
    Hook(_FAUST, "faust.transport.conductor:Conductor", "_resubscribe_sleep_lock_seconds",
         "ingest topics added at run time"),
    Hook(_FAUST, "faust.transport.conductor:Conductor", "_topic_name_index",
         "ingest topics added at run time", read_in="_update_indices"),
)


def installed(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def check_hooks() -> None:
    """Check that every hooked attribute still exists (call before Faust starts).

    Raises:
        ConfigError: naming each missing attribute, what it is used for, the installed and
            the pinned versions, and what to do.

    """
    missing = [h for h in HOOKS if not h.present()]
    if not missing:
        return
    lines = []
    for h in missing:
        have, pinned = installed(h.package), PINNED[h.package]
        upgrade = (f"the upgrade of {h.package} from {pinned} to {have}" if have != pinned
                   else f"{h.package} {have} as installed here (pinned {pinned})")
        lines.append(f"{h.name} ({h.use}) is gone: broken by {upgrade}")
    versions = ", ".join(f"{p} {installed(p)} (pinned {v})" for p, v in PINNED.items())
    raise ConfigError("the streams worker cannot start: " + "; ".join(lines) + f". Installed: {versions}. "
                      f"Install the pinned versions (pip install {_REQUIREMENTS}) or adapt "
                      "streams/faust_hooks.py to the new versions and run the streams tests.")


def set_current_event(event: Any) -> None:
    """Make table reads and writes that follow use ``event``'s partition (faust#497)."""
    faust.streams._current_event.set(weakref.ref(event))


def table_store(table: Any) -> Any:
    """The local store (RocksDB) of a Faust table."""
    return table.data


def partition_db(table: Any, partition: int) -> Any:
    """The RocksDB database of one partition of a table's store (opened if it is not yet).

    Reads and writes through it skip what Faust's store does per key: finding the
    current event again and keeping its key-to-partition LRU index, which only spares a
    scan of every partition's database for a key read without a current event (and
    such a read still finds keys written here)."""
    return table.data._db_for_partition(partition)


def mark_persisted(store: Any, tp: Any, offset: int) -> None:
    """Tell a table's store that its changelog holds everything up to ``offset``."""
    store.set_persisted_offset(tp, offset)


def producer_of(app: Any) -> Any:
    """The app's started aiokafka producer (the one every offset commit flushes first)."""
    return app.producer._ensure_producer()


def create_batch(producer: Any) -> Any:
    """An empty aiokafka record batch; ``append(key=, value=, timestamp=, headers=)`` fills it
    and returns None once it is full."""
    return producer.create_batch()


def send_batch(producer: Any, batch: Any, topic: str, partition: int) -> Awaitable[Any]:
    """Hand a record batch to the producer; awaiting it gives the delivery future."""
    return producer.send_batch(batch, topic, partition=partition)  # type: ignore[no-any-return]


def fetching_consumer(*, min_bytes: int, max_wait_ms: int) -> type[faust_aiokafka.Consumer]:
    """Faust's aiokafka consumer whose fetches wait for ``min_bytes`` or ``max_wait_ms``."""

    class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
        def _create_worker_consumer(self, transport: Any) -> Any:
            consumer = super()._create_worker_consumer(transport)
            consumer._fetch_max_wait_ms = max_wait_ms
            consumer._fetch_min_bytes = min_bytes
            return consumer

    class Consumer(faust_aiokafka.Consumer):
        def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
            return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

        async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - Faust's loop
            await drain_messages(self, fetcher)

        async def seek_to_committed(self) -> Any:
            committed = await super().seek_to_committed()
            acked = self.app.topics.acks_enabled_for
            # Where each partition's next delivery must begin: its committed offset (the
            # next to read), or for one never committed, its log start, since aiokafka
            # seeks only partitions with a committed offset and one that has none keeps its
            # fetch position, past what a rebalance dropped from the queues
            ours = [(tp, offset) for tp, offset in committed.items() if acked(tp.topic)]
            self._starts = {tp: offset for tp, offset in ours if offset and offset > 0}
            never = [tp for tp, offset in ours if not (offset and offset > 0)]
            if never:
                await self._thread.seek_to_beginning(*never)
                self._starts.update(await self._thread.earliest_offsets(*never))
            sought_to_start(self, self._starts)
            return committed

        async def perform_seek(self) -> None:
            await super().perform_seek()
            # Faust sets a partition's read offset (the last one delivered) to its committed
            # offset, the next to read: a fetch under way that resumes one past it was no
            # jump then, and that one offset was never applied (nor, once the one after it
            # was acknowledged, fetched again: Faust's commit passes one unacknowledged
            # offset). Emptied, a jump is judged from where the delivery must begin (Jumps).
            for tp in self._starts:
                self._read_offset[tp] = None

        async def _commit(self, offsets: Any) -> bool:
            if (guard := _GUARDS.get(self.app)) is not None:
                await guard[0]()
            return await super()._commit(offsets)  # type: ignore[no-any-return]

    return Consumer


def set_resubscribe_delay(app: Any, seconds: float) -> None:
    """How long the app's conductor waits after a change of topics before it subscribes again
    (Faust: 45 s, to gather changes made together; each subscription is a rebalance)."""
    app.topics._resubscribe_sleep_lock_seconds = seconds


def subscribed_topics(app: Any) -> set[str]:
    """The topic names the app's consumer was last subscribed to."""
    return set(app.topics._topic_name_index)


def resubscribe(app: Any) -> None:
    """Have the app's conductor subscribe again, to what its topics name now."""
    app.topics._flag_changes()


def set_changelog_buffer(max_messages: int) -> None:
    """How many changelog writes Faust buffers before it holds the streams back (all apps)."""
    faust_producer.ProducerBuffer.max_messages = max_messages


def share_rocksdb_memory(cache_bytes: int, write_buffer_bytes: int) -> tuple[Any, Any]:
    """Every RocksDB database Faust opens from now on (all apps of this process) uses one
    LRU block cache of ``cache_bytes`` and one write buffer manager that flushes memtables
    once they hold ``write_buffer_bytes`` together, instead of a cache and memtables of its
    own. The first call sets the budget; later calls keep it. Returns (cache, manager)."""
    global _shared  # noqa: PLW0603 - one budget per process, like the class it wraps
    if _shared is not None:
        return _shared
    cache = rocksdict.Cache(cache_bytes)
    buffers = rocksdict.WriteBufferManager(write_buffer_bytes, False)
    options = faust_rocksdb.RocksDBOptions
    own = options.as_options

    def as_options(self: Any) -> Any:
        db_options = own(self)
        if self.use_rocksdict:
            table = rocksdict.BlockBasedOptions()  # as Faust's, with the shared cache
            table.set_bloom_filter(self.bloom_filter_size, block_based=True)
            table.set_block_cache(cache)
            table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
            db_options.set_block_based_table_factory(table)
            db_options.set_write_buffer_manager(buffers)
        return db_options

    options.as_options = as_options  # type: ignore[method-assign]
    _shared = (cache, buffers)
    return _shared


_shared: tuple[Any, Any] | None = None

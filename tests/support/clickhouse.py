"""ClickHouse for the sink's tests: a fresh topic prefix, database and consumer group per
test, whether the sink's group has caught up, and a ClickHouse server of a test's own
(the local stack's ClickHouse service, on its own ports and directory), which the test
may stop and start again; never the session's shared one."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from confluent_kafka import KafkaError, KafkaException, TopicPartition
from prometheus_client import CollectorRegistry

from bus.clickhouse import make_clickhouse_client
from bus.kafka import make_admin, make_consumer
from bus.settings import Settings
from bus.topics import FACTS, UNMATCHED, apply_catalog
from ops.stack.manager import StackManager
from ops.stack.ports import free_ports
from ops.stack.settings import StackSettings
from sinks.clickhouse.decode import DERIVED_TOPICS
from sinks.clickhouse.sink import ClickHouseSink
from tests.support.waiting import wait_until

__all__ = ["ClickHouseServerProcess", "caught_up", "drain", "drop_database", "fresh_settings", "sink_topics"]


def fresh_settings(base: Settings, tag: str, **sink: Any) -> Settings:
    """``base`` under a new topic prefix (catalog applied), database and consumer group."""
    suffix = uuid.uuid4().hex[:8]
    prefix = f"{tag}{suffix}."
    apply_catalog(make_admin(base.kafka), prefix)
    return base.model_copy(update={
        "topic_prefix": prefix,
        "clickhouse": base.clickhouse.model_copy(update={"database": f"{tag}_{suffix}"}),
        "sink": base.sink.model_copy(update={"group_id": f"sink-{tag}-{suffix}", **sink}),
    })


def sink_topics(settings: Settings, with_unmatched: bool = True) -> list[str]:
    """The prefixed topics the sink reads (its own list: a topic the sink gains is here too)."""
    names = [FACTS, *DERIVED_TOPICS]
    return [settings.topic_prefix + t for t in (*names, UNMATCHED)[: len(names) + with_unmatched]]


#: What a fresh single broker answers while it is still loading its group coordinators.
_NOT_YET = (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
            KafkaError.COORDINATOR_NOT_AVAILABLE)


def caught_up(settings: Settings, topics: Iterable[str]) -> bool:
    """Whether the sink's group committed every partition of ``topics`` up to its end
    (not yet, while a fresh broker still loads its group coordinators)."""
    consumer = make_consumer(settings.kafka, settings.sink.group_id)
    try:
        parts: list[TopicPartition] = []
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            parts.extend(TopicPartition(topic, p) for p in meta.partitions)
        try:
            committed = {(tp.topic, tp.partition): tp.offset
                         for tp in consumer.committed(parts, timeout=10)}
        except KafkaException as exc:
            if exc.args[0].code() in _NOT_YET:
                return False
            raise
        for tp in parts:
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            if high > 0 and committed[(tp.topic, tp.partition)] < high:
                return False
        return True
    finally:
        consumer.close()


def drain(settings: Settings, timeout: float = 180) -> None:
    """Run a ClickHouse sink (in a thread) until its group committed every topic it reads to
    its end, then stop it."""
    sink = ClickHouseSink(settings, registry=CollectorRegistry())
    sink.setup()
    worker = threading.Thread(target=sink.run, daemon=True)
    worker.start()
    try:
        assert wait_until(lambda: caught_up(settings, sink_topics(settings)), timeout, 1.0), \
            "sink did not catch up"
    finally:
        sink.stop()
        worker.join(60)
    assert not worker.is_alive(), "the sink did not stop"


def drop_database(settings: Settings) -> None:
    """Remove a test's database from a server (embedded ones live in temporary dirs)."""
    if not settings.clickhouse.url.startswith("http"):
        return
    try:
        client = make_clickhouse_client(settings.clickhouse, create_database=False)
    except Exception:  # the server is gone: nothing to clean
        return
    try:
        client.command(f"DROP DATABASE IF EXISTS `{settings.clickhouse.database}`")
    finally:
        client.close()


class ClickHouseServerProcess:
    """The stack's ClickHouse service alone, in ``directory`` on free ports.

    Lifecycle: ``start()`` starts it and waits until it answers; ``stop()`` stops it
    (SIGTERM, SIGKILL after the service's grace); ``start()`` again brings it back on
    the same ports and data.
    """

    def __init__(self, directory: Path) -> None:
        http, tcp = free_ports(2)
        self.stack = StackSettings(dir=directory, clickhouse_http_port=http, clickhouse_tcp_port=tcp)
        self.echoed: list[str] = []
        self._manager = StackManager(self.stack, echo=self.echoed.append)

    @property
    def url(self) -> str:
        return self.stack.clickhouse_url

    def start(self) -> ClickHouseServerProcess:
        self._manager.up(["clickhouse"])
        return self

    def stop(self) -> None:
        self._manager.down(["clickhouse"])

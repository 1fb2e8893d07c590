"""The consumer-lag exporter against the real broker of the test stack."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import NewTopic
from prometheus_client import CollectorRegistry

from bus.kafka import make_admin, make_consumer, make_producer
from bus.metrics import MetricsServer
from bus.settings import Settings
from ops.prometheus.lag_exporter import LagExporter

pytestmark = pytest.mark.integration

WAIT_FOR_COORDINATOR = {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                        KafkaError.COORDINATOR_NOT_AVAILABLE}
OLD_S = 600  # the unconsumed messages were produced with timestamps 10 minutes ago


def commit_when_the_coordinator_is_there(consumer: Consumer, offsets: list[TopicPartition]) -> None:
    """Commit, retrying while a fresh broker still creates __consumer_offsets (bounded)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
            return
        except KafkaException as exc:
            # NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS: not flagged retriable, but are.
            if exc.args[0].code() not in WAIT_FOR_COORDINATOR or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="module")
def lagging(bus_settings: Settings) -> dict[str, str]:
    """A 2-partition topic of 10 messages per partition; group ``behind`` committed 4 of
    partition 0 and none of partition 1, group ``further-behind`` 2 of partition 0,
    group ``caught-up`` committed everything."""
    kafka = bus_settings.kafka
    topic = f"{bus_settings.topic_prefix}lagtest.{uuid.uuid4().hex[:6]}"
    admin = make_admin(kafka)
    admin.create_topics([NewTopic(topic, 2, 1)])[topic].result(timeout=30)
    producer = make_producer(kafka)
    old_ms = int((time.time() - OLD_S) * 1000)
    for partition in (0, 1):
        for i in range(10):
            producer.produce(topic, value=f"m{i}".encode(), partition=partition,
                             timestamp=old_ms + i)
    assert producer.flush(30) == 0
    behind = f"lagtest-behind-{uuid.uuid4().hex[:6]}"
    further = f"lagtest-further-behind-{uuid.uuid4().hex[:6]}"
    caught_up = f"lagtest-caught-up-{uuid.uuid4().hex[:6]}"
    for group, offsets in ((behind, {0: 4}), (further, {0: 2}), (caught_up, {0: 10, 1: 10})):
        consumer = make_consumer(kafka, group)
        try:
            commit_when_the_coordinator_is_there(
                consumer, [TopicPartition(topic, p, o) for p, o in offsets.items()])
        finally:
            consumer.close()
    return {"topic": topic, "behind": behind, "further": further, "caught_up": caught_up}


@pytest.fixture()
def exporter(bus_settings: Settings, lagging: dict[str, str]) -> Iterator[LagExporter]:
    wanted = {lagging["behind"], lagging["further"], lagging["caught_up"]}
    lag = LagExporter(bus_settings.kafka, CollectorRegistry(), include=wanted.__contains__)
    lag.setup()
    try:
        yield lag
    finally:
        lag.close()


def test_lag_in_records_is_log_end_minus_committed_offset(exporter: LagExporter,
                                                          lagging: dict[str, str]) -> None:
    reading = exporter.refresh()
    topic, behind, caught_up = lagging["topic"], lagging["behind"], lagging["caught_up"]
    assert exporter.healthy
    assert reading.records[(behind, topic, 0)] == 6
    assert (behind, topic, 1) not in reading.records  # never committed: not reported
    assert reading.records[(caught_up, topic, 0)] == 0
    assert reading.records[(caught_up, topic, 1)] == 0


def test_lag_in_seconds_is_the_age_of_the_first_unconsumed_message(exporter: LagExporter,
                                                                   lagging: dict[str, str]) -> None:
    reading = exporter.refresh()
    age = reading.seconds[(lagging["behind"], lagging["topic"])]
    assert OLD_S - 5 < age < OLD_S + 120
    assert reading.seconds[(lagging["caught_up"], lagging["topic"])] == 0.0
    again = exporter.refresh()  # timestamps come from the cache now, and still age
    assert again.seconds[(lagging["behind"], lagging["topic"])] >= age


def test_two_groups_behind_on_one_partition_at_different_offsets_both_get_their_age(
        exporter: LagExporter, lagging: dict[str, str]) -> None:
    reading = exporter.refresh()
    topic = lagging["topic"]
    assert exporter.healthy
    assert reading.records[(lagging["further"], topic, 0)] == 8
    assert reading.records[(lagging["behind"], topic, 0)] == 6
    for group in ("behind", "further"):
        assert OLD_S - 5 < reading.seconds[(lagging[group], topic)] < OLD_S + 120


def test_the_exporter_serves_its_reading_on_metrics(exporter: LagExporter,
                                                    lagging: dict[str, str]) -> None:
    registry = CollectorRegistry()
    served = LagExporter(exporter.kafka, registry, include=exporter.include)
    served.setup()
    server = MetricsServer(registry, 0).start()
    try:
        served.refresh()
        text = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5).text
    finally:
        server.close()
        served.close()
    topic, behind = lagging["topic"], lagging["behind"]
    assert (f'cultuurbus_kafka_consumer_lag_records{{group="{behind}",partition="0",topic="{topic}"}} 6.0'
            in text)
    assert f'cultuurbus_kafka_consumer_lag_seconds{{group="{behind}",topic="{topic}"}}' in text
    assert "cultuurbus_kafka_lag_exporter_up 1.0" in text


def test_an_unreachable_broker_marks_the_exporter_down_without_raising() -> None:
    from bus.settings import KafkaSettings

    lag = LagExporter(KafkaSettings(bootstrap_servers="127.0.0.1:1"), CollectorRegistry(),
                      timeout_s=2.0)
    lag.setup()
    try:
        reading = lag.refresh()
    finally:
        lag.close()
    assert not lag.healthy
    assert reading.records == {}

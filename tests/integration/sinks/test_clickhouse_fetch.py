"""The sink's fetches on a real broker: gathered, not one per record at a trickle."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from confluent_kafka import Consumer

from bus.kafka import consumer_config, make_producer
from bus.settings import Settings
from bus.topics import FACTS
from sinks.clickhouse.sink import consumer_extra
from tests.support.clickhouse import fresh_settings

pytestmark = pytest.mark.integration

_RECORDS, _EVERY_S = 300, 0.01  # a trickle: 100 records a second for 3 s


def _fetches_during_a_trickle(s: Settings, extra: dict[str, Any], tag: str) -> tuple[int, int]:
    """Fetch requests the consumer sent while a producer trickled records into a topic, and
    how many of those records it read."""
    newest: dict[str, Any] = {}

    def on_stats(text: str) -> None:
        newest.update(json.loads(text))

    def fetches() -> int:
        return sum(b.get("req", {}).get("Fetch", 0) for b in newest.get("brokers", {}).values())

    topic = s.topic_prefix + FACTS
    conf = {**consumer_config(s.kafka, f"{s.sink.group_id}-{tag}", **extra),
            "statistics.interval.ms": 100, "stats_cb": on_stats}
    consumer = Consumer(conf)
    producer = make_producer(s.kafka)
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 60
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(0.1)
        assert consumer.assignment(), "no partitions assigned within 60 s"
        for _ in range(5):  # a statistics report after the assignment
            consumer.poll(0.1)
        before = fetches()

        def trickle() -> None:
            for i in range(_RECORDS):
                producer.produce(topic, b"x" * 150, f"p{i % 7}".encode())
                producer.poll(0)
                time.sleep(_EVERY_S)
            producer.flush(10)

        sender = threading.Thread(target=trickle)
        sender.start()
        read = 0
        deadline = time.monotonic() + 60
        while read < _RECORDS and time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            if msg is not None and msg.error() is None:
                read += 1
        sender.join(30)
        consumer.poll(0.3)  # the report that covers the last fetch
        return fetches() - before, read
    finally:
        consumer.close()


def test_the_sink_gathers_its_fetches_at_a_trickle_and_still_reads_every_record(topics: Settings) -> None:
    s = fresh_settings(topics, "fetch")
    sink_fetches, sink_read = _fetches_during_a_trickle(s, consumer_extra(s), "sink")
    one_byte = {**consumer_extra(s), "fetch_min_bytes": 1}  # librdkafka's default
    plain_fetches, plain_read = _fetches_during_a_trickle(s, one_byte, "plain")
    assert (sink_read, plain_read) == (_RECORDS, _RECORDS)
    # 3 s at fetch_wait_max_ms (200 ms): ~15 fetches (the consumer thread's own cadence aside)
    assert sink_fetches <= 40, (sink_fetches, plain_fetches)
    assert plain_fetches >= 3 * sink_fetches, (sink_fetches, plain_fetches)

"""Consumer lag of every consumer group, in records and in seconds, for Prometheus.

No role exports the lag of the Faust workers, and lag in seconds is what an operator
reads ("the sales monitor is 40 s behind"), so a small exporter asks Kafka itself:

- groups: ``AdminClient.list_consumer_groups``;
- committed offsets: ``list_consumer_group_offsets`` (one group per request);
- log end: ``list_offsets`` with ``OffsetSpec.latest()``;
- lag seconds: now minus the timestamp of the first message not yet consumed (the
  one at the committed offset), read with an assigned consumer that never joins a
  group nor commits; timestamps are cached per (topic, partition, offset).

Metrics (the ``job`` label says which exporter)::

    cultuurbus_kafka_consumer_lag_records{group,topic,partition}  log end - committed offset
    cultuurbus_kafka_consumer_lag_seconds{group,topic}            age of the oldest unconsumed
                                                                  message (0 when caught up)
    cultuurbus_kafka_lag_exporter_up                              1 when the last refresh succeeded
    cultuurbus_kafka_lag_exporter_last_refresh_timestamp_seconds  Unix time of the last successful refresh

Partitions a group never committed are not reported. Lifecycle: ``setup()`` creates
the clients, ``refresh()`` takes one reading (also callable alone, e.g. in tests),
``run()`` refreshes every ``interval_s`` until ``stop()`` signals, ``close()``
releases the clients. Run it with ``python -m ops.prometheus.lag_exporter``.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from bus.kafka import make_admin, make_consumer
from bus.metrics import MetricsServer
from bus.settings import KafkaSettings, load_settings

__all__ = ["DEFAULT_PORT", "LagExporter", "LagReading"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 9409
#: The exporter's own (never joined, never committed) group id, excluded from readings.
OWN_GROUP = "cultuurbus-lag-exporter"
_NO_OFFSET = 0  # committed offsets below this (OFFSET_INVALID = -1001) mean "never committed"


@dataclass(frozen=True)
class LagReading:
    """One refresh: lag per (group, topic, partition) and age per (group, topic)."""

    records: dict[tuple[str, str, int], int] = field(default_factory=dict)
    seconds: dict[tuple[str, str], float] = field(default_factory=dict)
    taken_at: float = 0.0


class _Collector(Collector):
    def __init__(self, exporter: LagExporter) -> None:
        self._exporter = exporter

    def collect(self) -> Iterator[GaugeMetricFamily]:
        reading, ok = self._exporter.reading, self._exporter.healthy
        records = GaugeMetricFamily("cultuurbus_kafka_consumer_lag_records",
                                    "Log end offset minus the group's committed offset.",
                                    labels=["group", "topic", "partition"])
        for (group, topic, partition), lag in sorted(reading.records.items()):
            records.add_metric([group, topic, str(partition)], lag)
        seconds = GaugeMetricFamily("cultuurbus_kafka_consumer_lag_seconds",
                                    "Age of the oldest message the group has not consumed yet "
                                    "(0 when caught up), over the topic's partitions.",
                                    labels=["group", "topic"])
        for (group, topic), age in sorted(reading.seconds.items()):
            seconds.add_metric([group, topic], age)
        yield records
        yield seconds
        yield GaugeMetricFamily("cultuurbus_kafka_lag_exporter_up",
                                "1 when the last refresh reached Kafka.", value=1 if ok else 0)
        yield GaugeMetricFamily("cultuurbus_kafka_lag_exporter_last_refresh_timestamp_seconds",
                                "Unix time of the last successful refresh.", value=reading.taken_at)


class LagExporter:
    """Reads consumer lag from Kafka and serves it to Prometheus.

    Args:
        kafka: How to reach Kafka.
        registry: Where the metrics register (tests pass a fresh ``CollectorRegistry``).
        interval_s: Time between refreshes in ``run()``.
        include: Only groups for which this returns true (default: all but our own).
        timeout_s: Bound of each Kafka request.

    """

    def __init__(self, kafka: KafkaSettings, registry: CollectorRegistry, *, interval_s: float = 5.0,
                 include: Callable[[str], bool] | None = None, timeout_s: float = 10.0) -> None:
        self.kafka = kafka
        self.interval_s = interval_s
        self.include = include or (lambda group: True)
        self.timeout_s = timeout_s
        self.reading = LagReading()
        self.healthy = False
        self._stamps: dict[tuple[str, int, int], float] = {}
        self._admin: AdminClient | None = None
        self._consumer: Consumer | None = None
        self._stopping = threading.Event()
        registry.register(_Collector(self))

    def setup(self) -> None:
        """Create the admin client and the timestamp reader (no group join, no commits)."""
        self._admin = make_admin(self.kafka)
        self._consumer = make_consumer(self.kafka, OWN_GROUP, isolation_level="read_uncommitted",
                                       enable_partition_eof=True)

    def _committed(self, admin: AdminClient) -> dict[tuple[str, str, int], int]:
        listing = admin.list_consumer_groups(request_timeout=self.timeout_s).result()
        if listing.errors:  # a broker did not answer: the list would be incomplete
            raise KafkaException(listing.errors[0])
        groups = sorted(g.group_id for g in listing.valid
                        if g.group_id != OWN_GROUP and self.include(g.group_id))
        committed: dict[tuple[str, str, int], int] = {}
        for group in groups:
            futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)],
                                                        request_timeout=self.timeout_s)
            for tp in futures[group].result().topic_partitions or []:
                if tp.error is None and tp.offset >= _NO_OFFSET:
                    committed[(group, tp.topic, tp.partition)] = tp.offset
        return committed

    def _ends(self, admin: AdminClient, partitions: set[tuple[str, int]]) -> dict[tuple[str, int], int]:
        if not partitions:
            return {}
        request = {TopicPartition(t, p): OffsetSpec.latest() for t, p in sorted(partitions)}
        ends: dict[tuple[str, int], int] = {}
        for tp, future in admin.list_offsets(request, request_timeout=self.timeout_s).items():
            ends[(tp.topic, tp.partition)] = future.result().offset
        return ends

    def _timestamps(self, wanted: set[tuple[str, int, int]]) -> dict[tuple[str, int, int], float]:
        """Timestamp (s) of the first message at or after each (topic, partition, offset).

        Several groups can be behind on one partition at different offsets: those are
        read in rounds, one offset per partition each (an assignment names a partition
        once).
        """
        missing = sorted(wanted - self._stamps.keys())
        consumer = self._consumer
        deadline = time.monotonic() + self.timeout_s
        while missing and consumer is not None and time.monotonic() < deadline:
            by_tp: dict[tuple[str, int], tuple[str, int, int]] = {}
            later: list[tuple[str, int, int]] = []
            for key in missing:
                if (key[0], key[1]) in by_tp:
                    later.append(key)
                else:
                    by_tp[(key[0], key[1])] = key
            assigned = [TopicPartition(t, p, o) for t, p, o in by_tp.values()]
            consumer.assign(assigned)
            try:
                while by_tp and time.monotonic() < deadline:
                    for msg in consumer.consume(num_messages=500, timeout=0.5):
                        topic, partition = msg.topic(), msg.partition()
                        if topic is None or partition is None:
                            continue  # a client-level error event: the deadline bounds the wait
                        found = by_tp.pop((topic, partition), None)
                        if found is None:
                            continue
                        if msg.error() is None:  # else end of partition: nothing to date
                            _, stamp = msg.timestamp()
                            if stamp > 0:
                                self._stamps[found] = stamp / 1000
                        consumer.pause([TopicPartition(topic, partition)])
            finally:
                consumer.resume([TopicPartition(tp.topic, tp.partition) for tp in assigned])
                consumer.unassign()
            missing = later
        self._stamps = {k: v for k, v in self._stamps.items() if k in wanted}
        return self._stamps

    def refresh(self) -> LagReading:
        """Take one reading now and publish it; marks the exporter down on Kafka errors."""
        admin = self._admin
        if admin is None:
            raise RuntimeError("call setup() before refresh()")
        try:
            committed = self._committed(admin)
            ends = self._ends(admin, {(t, p) for _, t, p in committed})
        except KafkaException as exc:
            self.healthy = False
            log.warning("consumer lag not read", extra={"error": str(exc)})
            return self.reading
        records: dict[tuple[str, str, int], int] = {}
        behind: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
        for (group, topic, partition), offset in committed.items():
            end = ends.get((topic, partition))
            if end is None or end < 0:
                continue
            lag = max(end - offset, 0)
            records[(group, topic, partition)] = lag
            behind.setdefault((group, topic), [])
            if lag > 0:
                behind[(group, topic)].append((topic, partition, offset))
        stamps = self._timestamps({key for keys in behind.values() for key in keys})
        now = time.time()
        seconds = {gt: max([now - stamps[k] for k in keys if k in stamps] or [0.0])
                   for gt, keys in behind.items()}
        self.reading = LagReading(records, {k: max(v, 0.0) for k, v in seconds.items()}, now)
        self.healthy = True
        return self.reading

    def run(self) -> None:
        """Refresh every ``interval_s`` until ``stop()``; a failed refresh marks the
        exporter down and is retried at the next interval, never ends the loop."""
        while not self._stopping.is_set():
            try:
                self.refresh()
            except Exception as exc:  # noqa: BLE001 - an exporter must outlive a bad reading
                self.healthy = False
                log.exception("consumer lag reading failed", extra={"error": str(exc)})
            self._stopping.wait(self.interval_s)

    def stop(self) -> None:
        """Signal ``run()`` to return after the current refresh."""
        self._stopping.set()

    def close(self) -> None:
        """Release the Kafka clients."""
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        self._admin = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve Kafka consumer lag on /metrics.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between readings")
    args = parser.parse_args(argv)
    registry = CollectorRegistry()
    exporter = LagExporter(load_settings().kafka, registry, interval_s=args.interval)
    exporter.setup()
    server = MetricsServer(registry, args.port, health=None).start()
    server.health.add_check("kafka", lambda: exporter.healthy)
    print(f"lag exporter: http://127.0.0.1:{server.port}/metrics")
    try:
        exporter.run()
    except KeyboardInterrupt:
        exporter.stop()
    finally:
        server.close()
        exporter.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

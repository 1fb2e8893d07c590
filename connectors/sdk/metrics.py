"""The connector role's metrics, declared once, in the registry passed in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bus.metrics import LATENCY_BUCKETS

__all__ = ["ConnectorMetrics"]


class ConnectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.records_in = Counter(
            "cultuurbus_connector_records_in", "Records read from the source system.",
            ["connector"], registry=registry)
        self.records_out = Counter(
            "cultuurbus_connector_records_out", "Facts acknowledged by Kafka.",
            ["connector", "topic"], registry=registry)
        self.records_failed = Counter(
            "cultuurbus_connector_records_failed",
            "Records rejected (to the DLQ or answered 4xx), by reason.",
            ["connector", "reason"], registry=registry)
        self.dlq = Counter(
            "cultuurbus_connector_dlq_records", "Records written to a dead-letter topic.",
            ["connector", "topic"], registry=registry)
        self.lag = Gauge(
            "cultuurbus_connector_source_lag_seconds",
            "Age of the newest source record published (now - source timestamp).",
            ["connector"], registry=registry)
        self.last_success = Gauge(
            "cultuurbus_connector_last_success_timestamp_seconds",
            "Unix time of the last successful publish to Kafka.", ["connector"],
            registry=registry)
        self.publish_latency = Histogram(
            "cultuurbus_connector_publish_seconds",
            "Time from produce to Kafka acknowledgement of a batch.", ["connector"],
            buckets=LATENCY_BUCKETS, registry=registry)
        self.up = Gauge("cultuurbus_connector_kafka_up",
                        "1 when the last publish reached Kafka, 0 after a failure.",
                        ["connector"], registry=registry)

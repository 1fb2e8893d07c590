"""The streams role's metrics, declared once, in the registry passed in."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bus.metrics import LATENCY_BUCKETS

__all__ = ["StreamsMetrics"]


class StreamsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter("cultuurbus_streams_events_processed",
                              "Messages processed, per agent.", ["agent"], registry=registry)
        self.duplicates = Counter("cultuurbus_streams_duplicates",
                                  "Facts seen again (redelivery/replay) and not applied twice.",
                                  ["agent"], registry=registry)
        self.latency = Histogram(
            "cultuurbus_streams_processing_latency_seconds",
            "From the connector reading a fact (ingested_at) to its state being published.",
            ["agent"], buckets=LATENCY_BUCKETS, registry=registry)
        self.fact_age = Histogram(
            "cultuurbus_streams_fact_age_seconds",
            "From a fact's event time to its state being published (includes source delay).",
            ["agent"], buckets=(*LATENCY_BUCKETS, 300.0, 3600.0, 86400.0), registry=registry)
        self.table_keys = Gauge("cultuurbus_streams_table_keys",
                                "Performances held in a table on this worker.", ["table"],
                                registry=registry)
        self.unmatched = Gauge("cultuurbus_streams_unmatched_parked",
                               "Facts parked because their performance is not known yet.",
                               registry=registry)
        self.unmatched_total = Counter("cultuurbus_streams_unmatched",
                                       "Facts that had to be parked.", registry=registry)
        self.released_total = Counter("cultuurbus_streams_released",
                                      "Parked facts released after their performance arrived.",
                                      registry=registry)
        self.identity_links = Gauge("cultuurbus_streams_identity_links",
                                    "Identifier links in this worker's crosswalk.", registry=registry)
        self.identity_conflicts = Counter(
            "cultuurbus_streams_identity_conflicts",
            "Facts whose identifiers pointed at different performances.", registry=registry)
        self.rebalances = Counter("cultuurbus_streams_rebalances", "Partition rebalances.",
                                  registry=registry)
        self.recovery_seconds = Gauge("cultuurbus_streams_last_recovery_seconds",
                                      "Duration of the last table recovery after a rebalance.",
                                      registry=registry)
        self.tickets = Counter(
            "cultuurbus_streams_tickets",
            "Tickets applied to availability, by what happened (SOLD, REFUNDED, RESERVED, ...) "
            "and sales channel; each fact counted once.", ["kind", "channel"], registry=registry)
        self.performances = Gauge(
            "cultuurbus_streams_performances",
            "Performances this worker holds, by availability status as last published.",
            ["status"], registry=registry)
        self.drift_performances = Gauge(
            "cultuurbus_streams_declared_drift_performances",
            "Performances this worker holds whose declared availability drifts from the computed "
            "one (participation.reconciliation state DRIFT).", registry=registry)
        self.drift_detections = Counter(
            "cultuurbus_streams_declared_drifts",
            "Performances found drifting between declared and computed availability (each time one "
            "enters DRIFT).",
            registry=registry)
        self.decode_errors = Counter("cultuurbus_streams_dead_letters",
                                     "Messages the worker could not decode (sent to the DLQ).",
                                     ["topic"], registry=registry)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once (the lookup costs more than the update)."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def events_of(self, agent: str) -> Any:
        return self._child(self.events, agent)

    def duplicates_of(self, agent: str) -> Any:
        return self._child(self.duplicates, agent)

    def latency_of(self, agent: str) -> Any:
        return self._child(self.latency, agent)

    def fact_age_of(self, agent: str) -> Any:
        return self._child(self.fact_age, agent)

    def tickets_of(self, kind: str, channel: str) -> Any:
        return self._child(self.tickets, kind, channel)

    def performances_of(self, status: str) -> Any:
        return self._child(self.performances, status)

    def table_keys_of(self, table: str) -> Any:
        return self._child(self.table_keys, table)

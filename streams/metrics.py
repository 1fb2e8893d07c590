"""The streams role's metrics, declared once, in the registry passed in."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import HistogramMetricFamily

from bus.metrics import LATENCY_BUCKETS

__all__ = ["LoopHistogram", "StreamsMetrics"]


class _Observed:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last: above every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value


class LoopHistogram:
    """A labelled Prometheus histogram observed from one event loop: an observation is a
    bisect and two additions (``prometheus_client.Histogram`` takes a lock and updates an
    object per bucket: ~6% of the worker's CPU when every domain observes every fact).

    Exposed as ``prometheus_client`` would expose the same histogram (``_bucket`` with
    ``le``, ``_sum``, ``_count``), read by the metrics endpoint's thread; a scrape may see a
    sum that is one observation ahead of the counts, never counts that go backwards.
    """

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str],
                 buckets: Sequence[float], registry: CollectorRegistry) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, tuple(labelnames)
        self.bounds = tuple(sorted(float(b) for b in buckets if b != float("inf")))
        self._children: dict[tuple[str, ...], _Observed] = {}
        registry.register(self)

    def labels(self, *values: str) -> _Observed:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = _Observed(self.bounds)
        return child

    def describe(self) -> list[HistogramMetricFamily]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for values, child in list(self._children.items()):
            counts, total = list(child.counts), child.sum
            cumulative, buckets = 0, []
            for bound, n in zip((*self.bounds, float("inf")), counts, strict=True):
                cumulative += n
                buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
            family.add_metric(list(values), buckets, total)
        yield family


class StreamsMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter("cultuurbus_streams_events_processed",
                              "Messages processed, per agent.", ["agent"], registry=registry)
        self.duplicates = Counter("cultuurbus_streams_duplicates",
                                  "Facts seen again (redelivery/replay) and not applied twice.",
                                  ["agent"], registry=registry)
        self.latency = LoopHistogram(
            "cultuurbus_streams_processing_latency_seconds",
            "From the connector reading a fact (ingested_at) to its state being published.",
            ["agent"], buckets=LATENCY_BUCKETS, registry=registry)
        self.fact_age = LoopHistogram(
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
        self.tenant_refused = Counter("cultuurbus_streams_tenant_refused",
                                      "Facts from a tenant's ingest topic dead-lettered, never counted, by "
                                      "why: unknown_tenant (not in the tenant directory), revoked, "
                                      "not_registered (not its venue or production).",
                                      ["reason"], registry=registry)
        self.tenant_held = Counter("cultuurbus_streams_tenant_held", "Facts from a tenant's ingest topic "
                                   "held until their performance's venue is known.", registry=registry)
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

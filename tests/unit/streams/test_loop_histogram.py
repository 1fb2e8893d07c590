"""The worker's cheap latency histograms scrape exactly as prometheus_client's own would."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from bus.metrics import LATENCY_BUCKETS
from streams.metrics import LoopHistogram, StreamsMetrics


def samples(registry: CollectorRegistry) -> list[str]:
    return [line for line in generate_latest(registry).decode().splitlines()
            if not line.startswith("#") and "_created" not in line]


def test_a_loop_histogram_scrapes_as_a_prometheus_histogram_of_the_same_observations() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    loop = LoopHistogram("x_seconds", "doc", ["agent"], LATENCY_BUCKETS, ours)
    reference = Histogram("x_seconds", "doc", ["agent"], buckets=LATENCY_BUCKETS, registry=theirs)
    rng = random.Random(7)
    values = [0.0, LATENCY_BUCKETS[0], LATENCY_BUCKETS[-1], 1e9] + [rng.expovariate(2.0) for _ in range(500)]
    for i, v in enumerate(values):
        agent = "sales" if i % 3 else "availability"
        loop.labels(agent).observe(v)
        reference.labels(agent).observe(v)
    assert samples(ours) == samples(theirs)
    assert 'x_seconds_count{agent="sales"}' in "\n".join(samples(ours))


def test_the_worker_latency_metrics_count_each_observation_under_its_agent() -> None:
    registry = CollectorRegistry()
    m = StreamsMetrics(registry)
    m.latency_of("availability").observe(0.02)
    m.latency_of("availability").observe(0.2)
    m.fact_age_of("sales").observe(4000.0)
    assert registry.get_sample_value("cultuurbus_streams_processing_latency_seconds_count",
                                     {"agent": "availability"}) == 2
    assert registry.get_sample_value("cultuurbus_streams_processing_latency_seconds_sum",
                                     {"agent": "availability"}) == 0.22
    assert registry.get_sample_value("cultuurbus_streams_fact_age_seconds_bucket",
                                     {"agent": "sales", "le": "3600.0"}) == 0
    assert registry.get_sample_value("cultuurbus_streams_fact_age_seconds_bucket",
                                     {"agent": "sales", "le": "86400.0"}) == 1

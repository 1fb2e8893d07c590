"""Metrics of the ClickHouse sink, declared once; the container takes its registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bus.metrics import LATENCY_BUCKETS, metric_name

__all__ = ["AGE_BUCKETS", "BATCH_BUCKETS", "SinkMetrics"]

#: Event age on write (seconds): from 10 ms to a day (replays are old, live facts young).
AGE_BUCKETS = (*LATENCY_BUCKETS, 120.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 86400.0)
#: Rows per batch.
BATCH_BUCKETS = (1, 10, 50, 100, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000)


class SinkMetrics:
    """Everything the sink counts, under ``cultuurbus_sink_*``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def name(n: str) -> str:
            return metric_name(f"sink_{n}")

        self.records_in = Counter(name("records_in"), "Records consumed, per topic.", ["topic"],
                                  registry=registry)
        self.rows_written = Counter(name("rows_written"), "Rows ClickHouse confirmed, per table.",
                                    ["table"], registry=registry)
        self.batch_rows = Histogram(name("batch_rows"), "Rows per flushed batch.",
                                    buckets=BATCH_BUCKETS, registry=registry)
        self.insert_seconds = Histogram(name("insert_seconds"), "Latency of one table insert (on the "
                                        "writer thread, including waits for the interpreter lock).",
                                        ["table"], buckets=LATENCY_BUCKETS, registry=registry)
        self.flush_seconds = Histogram(name("flush_seconds"), "One batch from hand-over to the writer "
                                       "thread to its commit: inserts, dead letters, commit (the "
                                       "next batch is read meanwhile).",
                                       buckets=LATENCY_BUCKETS, registry=registry)
        self.insert_failures = Counter(name("insert_failures"), "Failed insert attempts (retried).",
                                       ["table"], registry=registry)
        self.event_age = Histogram(name("event_age_seconds"), "Now minus the record's event time "
                                   "(facts) or updated_at (derived state) when written; sampled: "
                                   "the oldest and at most 100 evenly spaced rows per table "
                                   "per batch.",
                                   ["table"], buckets=AGE_BUCKETS, registry=registry)
        self.dlq = Counter(name("dlq_records"), "Records sent to a dead-letter topic.",
                           ["topic", "stage"], registry=registry)
        self.skipped = Counter(name("records_skipped"), "Records deliberately not written.",
                               ["topic", "reason"], registry=registry)
        self.lag = Gauge(name("consumer_lag_records"), "High watermark minus position, per "
                         "partition.", ["topic", "partition"], registry=registry)
        self.commits = Counter(name("commits"), "Offset commits after a confirmed batch.",
                               registry=registry)
        self.commit_failures = Counter(name("commit_failures"), "Offset commits that failed "
                                       "(the batch will be re-read; inserts are idempotent).",
                                       registry=registry)
        self.assigned = Gauge(name("assigned_partitions"), "Partitions this sink instance owns.",
                              registry=registry)
        self.clickhouse_up = Gauge(name("clickhouse_up"), "1 while the last ClickHouse call "
                                   "succeeded.", registry=registry)
        self.backoff_seconds = Counter(name("backoff_seconds"), "Time spent waiting for "
                                       "ClickHouse or the registry to come back.", registry=registry)

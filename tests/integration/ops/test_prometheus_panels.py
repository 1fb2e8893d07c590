"""Every Grafana panel query, run through a real Prometheus scraping the roles' endpoints:
the fast variant, in seconds, without Kafka.

The roles' metric containers run in this process, one ``MetricsServer`` per role on a
fresh registry, fed by a thread that counts and observes like a busy bus (every metric
moves, so every query must return data); the lag exporter serves a reading set here
instead of one taken from Kafka (its own test reads a real broker). The same checks on
the real demo pipeline are tests/e2e/test_dashboards_live.py.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from bus.metrics import MetricsServer
from bus.settings import KafkaSettings
from connectors.calendar.common import CalendarMetrics
from connectors.sdk.metrics import ConnectorMetrics
from connectors.ticketing.eventstream.metrics import EventstreamMetrics
from connectors.ticketing.webhook.metrics import WebhookMetrics
from ops.grafana.panels import expand, panel_queries, variable_queries
from ops.prometheus.build import PrometheusBinaries, build
from ops.prometheus.config import default_cache_dir
from ops.prometheus.lag_exporter import LagExporter, LagReading
from ops.prometheus.server import PrometheusServer
from ops.stack.ports import free_ports
from sinks.clickhouse.metrics import SinkMetrics
from sinks.gateway.metrics import GatewayMetrics
from streams.metrics import StreamsMetrics

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]  # a cold build takes minutes

REPO_ROOT = Path(__file__).resolve().parents[3]
CONNECTORS = ("webhook-acme", "uitdatabank")
AGENTS = ("identity-route", "identity-learn", "availability", "attendance", "sales", "lastminute")


class Roles:
    """The roles' metric containers, one registry and endpoint each."""

    def __init__(self) -> None:
        self.registries = {job: CollectorRegistry()
                           for job in ("connector", "streams", "sink", "gateway", "kafka")}
        self.connector = ConnectorMetrics(self.registries["connector"])
        self.webhook = WebhookMetrics(self.registries["connector"])
        self.calendar = CalendarMetrics(self.registries["connector"])
        self.eventstream = EventstreamMetrics(self.registries["connector"])
        self.streams = StreamsMetrics(self.registries["streams"])
        self.sink = SinkMetrics(self.registries["sink"])
        self.gateway = GatewayMetrics(self.registries["gateway"])
        self.lag = LagExporter(KafkaSettings(), self.registries["kafka"])
        self.lag.healthy = True
        self.rng = random.Random(6)

    def tick(self) -> None:
        """One moment of a busy bus: every metric moves."""
        m, r = self.connector, self.rng
        now = time.time()
        for name in CONNECTORS:
            topic = "ticketing.events" if name.startswith("webhook") else "calendar.performances"
            m.records_in.labels(name).inc(5)
            m.records_out.labels(name, topic).inc(4)
            m.records_failed.labels(name, "MappingError").inc()
            m.dlq.labels(name, f"{topic}.dlq").inc()
            m.lag.labels(name).set(r.uniform(0.1, 3))
            m.last_success.labels(name).set(now)
            m.publish_latency.labels(name).observe(r.uniform(0.002, 0.2))
            m.up.labels(name).set(1)
        self.calendar.skipped.labels("uitdatabank", "periodic").inc()
        self.eventstream.pages.labels("ticketmatic").inc()
        self.eventstream.skipped.labels("ticketmatic", "webshop_action").inc()
        self.webhook.deliveries.labels("acme", "accepted", "202").inc(3)
        self.webhook.seconds.labels("acme").observe(r.uniform(0.005, 0.1))
        s = self.streams
        for agent in AGENTS:
            s.events.labels(agent).inc(4)
            s.duplicates.labels(agent).inc()
            s.latency.labels(agent).observe(r.uniform(0.01, 1.5))
            s.fact_age.labels(agent).observe(r.uniform(0.5, 30))
        for table in ("availability", "attendance", "sales", "lastminute"):
            s.table_keys.labels(table).set(r.randint(100, 200))
        s.unmatched.set(r.randint(0, 20))
        s.unmatched_total.inc(2)
        s.released_total.inc(1)
        s.identity_links.set(r.randint(300, 400))
        s.identity_conflicts.inc()
        s.rebalances.inc()
        s.recovery_seconds.set(r.uniform(0.1, 2))
        s.decode_errors.labels("participation.facts").inc()
        for kind in ("SOLD", "REFUNDED", "CANCELLED", "RESERVED", "RESERVATION_RELEASED", "BLOCKED",
                     "UNBLOCKED", "SCANNED"):
            s.tickets.labels(kind, r.choice(("web", "box_office"))).inc(r.randint(1, 4))
        for status in ("AVAILABLE", "LIMITED", "SOLD_OUT", "CANCELLED", "POSTPONED"):
            s.performances.labels(status).set(r.randint(0, 30))
        k = self.sink
        k.records_in.labels("participation.facts").inc(8)
        for table in ("ticket_facts", "availability_state"):
            k.rows_written.labels(table).inc(8)
            k.insert_seconds.labels(table).observe(r.uniform(0.005, 0.3))
            k.insert_failures.labels(table).inc()
            k.event_age.labels(table).observe(r.uniform(0.5, 20))
        k.batch_rows.observe(r.randint(1, 500))
        k.flush_seconds.observe(r.uniform(0.01, 0.5))
        k.dlq.labels("participation.facts", "decode").inc()
        k.skipped.labels("participation.facts", "unknown_kind").inc()
        k.lag.labels("participation.facts", "0").set(r.randint(0, 50))
        k.commits.inc()
        k.commit_failures.inc()
        k.clickhouse_up.set(1)
        k.assigned.set(3)
        k.backoff_seconds.inc(0.1)
        g = self.gateway
        for topic in ("participation.availability", "participation.lastminute"):
            g.records.labels(topic, "applied").inc(3)
            g.records.labels(topic, "dead_letter").inc()
            g.consumer_lag.labels(topic, "0").set(r.randint(0, 5))
        g.view_size.labels("availability").set(r.randint(100, 200))
        g.view_size.labels("lastminute").set(r.randint(1, 20))
        g.ready.set(1)
        g.sse_clients.set(r.randint(1, 9))
        for event in ("availability", "lastminute"):
            g.sse_events.labels(event).inc(2)
            g.event_age.labels(event).observe(r.uniform(0.01, 2))
        g.sse_dropped.labels("overflow").inc()
        g.sse_resets.inc()
        g.requests.labels("/v1/availability", "GET", "200").inc(5)
        g.request_seconds.labels("/v1/availability").observe(r.uniform(0.001, 0.05))
        self.lag.reading = LagReading(
            records={(group, "participation.facts", p): r.randint(0, 30)
                     for group in ("cultuurbus-streams", "cultuurbus-sink") for p in (0, 1, 2)},
            seconds={(group, "participation.facts"): r.uniform(0, 4)
                     for group in ("cultuurbus-streams", "cultuurbus-sink")},
            taken_at=now)


@pytest.fixture(scope="module")
def binaries() -> PrometheusBinaries:
    return build(default_cache_dir(root=REPO_ROOT / ".stack"))


@pytest.fixture(scope="module")
def roles() -> Iterator[dict[str, str]]:
    """Metrics endpoints per job, kept busy by a feeder thread."""
    state = Roles()
    state.tick()
    servers = {job: MetricsServer(registry, 0).start() for job, registry in state.registries.items()}
    stop = threading.Event()

    def feed() -> None:
        while not stop.wait(0.25):
            state.tick()

    feeder = threading.Thread(target=feed, name="feed-metrics", daemon=True)
    feeder.start()
    try:
        yield {job: f"127.0.0.1:{server.port}" for job, server in servers.items()}
    finally:
        stop.set()
        feeder.join(timeout=5)
        for server in servers.values():
            server.close()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, binaries: PrometheusBinaries,
               roles: dict[str, str]) -> Iterator[PrometheusServer]:
    (port,) = free_ports(1)
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), port,
                              {job: [address] for job, address in roles.items()},
                              binaries=binaries)
    server.start(echo=lambda _: None)
    try:
        # Two scrapes of every target (bounded): rate() needs two samples.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            counts = server.query("count_over_time(up[1m])")["result"]
            if len(counts) == len(roles) and min(int(c["value"][1]) for c in counts) >= 3:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"targets not scraped twice within 30s: {counts}")
        yield server
    finally:
        server.stop()


QUERIES = panel_queries()


def test_every_target_is_up(prometheus: PrometheusServer) -> None:
    up = prometheus.query("up")["result"]
    assert {s["metric"]["job"]: s["value"][1] for s in up} == {
        "connector": "1", "streams": "1", "sink": "1", "gateway": "1", "kafka": "1"}


@pytest.mark.parametrize("query", QUERIES, ids=[f"{q.dashboard}-{q.panel_id}-{q.ref_id}" for q in QUERIES])
def test_panel_query_is_valid_and_returns_data(prometheus: PrometheusServer, query) -> None:  # type: ignore[no-untyped-def]
    data = prometheus.query(expand(query.expr))  # raises on invalid PromQL
    assert data["result"], f"{query}: no data for {expand(query.expr)}"


@pytest.mark.parametrize("variable", variable_queries(), ids=lambda v: f"{v[0]}-{v[1]}")
def test_dashboard_variable_finds_label_values(prometheus: PrometheusServer, variable) -> None:  # type: ignore[no-untyped-def]
    assert prometheus.query(variable[2])["result"], f"variable {variable[1]}: no series"


def test_every_alerting_rule_evaluates_without_error_on_live_metrics(prometheus: PrometheusServer) -> None:
    import httpx

    groups = httpx.get(f"{prometheus.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) >= 10
    broken = {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] == "err"}
    assert broken == {}
    assert all(rule["health"] == "ok" for rule in rules), [r["name"] for r in rules if r["health"] != "ok"]

"""THE PANEL TEST: every query of every Grafana dashboard, run against the real Prometheus
of the stack while it scrapes the real demo pipeline.

The stack (``stack`` fixture) gets Prometheus and the lag exporter as the demo gets them
(``StackManager.up`` of the monitoring services). The demo's roles run as their own
processes (``ops.stack.pipeline.Pipeline``: streams worker, ClickHouse sink, gateway,
webhook receiver) and the simulator plays the short season through them; an eventstream
poller and a UiTdatabank poller run against fake vendors beside them. The run is made
to exercise what a healthy demo rarely shows: one bad webhook (422 and a dead letter),
one undecodable record on the raw ticket topic and one on the availability topic (dead
letters in the streams worker, the sink and the gateway), one redelivered fact
(duplicates), a tombstone (skipped by the sink), a webshop item and a periodic UiT event
(skipped by the pollers), a ClickHouse outage while facts arrive (insert failures, then
recovery), a burst of changes larger than an SSE client's queue (the gateway drops the
client; one that reads resumes with Last-Event-ID, one that never reads stays dropped).

Once the season is delivered and ClickHouse holds its tickets, each panel query is run
as Grafana runs it (a range query over the run, Grafana's macros expanded): it must be
valid PromQL and return at least one finite value. ``MAY_BE_EMPTY`` names the panels
that may legitimately have none, with the reason; their query must still be valid.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from bus.kafka import make_consumer, make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, TICKET_EVENTS
from connectors.fakes.ticketmatic import FakeTicketmatic, generate_feed, stream_id, webshop_item
from connectors.fakes.uitdatabank import FakeUitdatabank, uit_event
from connectors.fakes.webhooks import eventix_delivery, eventix_order
from connectors.simulator.drivers.webhook_host import vendor_credentials
from ops.demo import DemoOptions, simulator_args
from ops.grafana.panels import PanelQuery, expand, panel_queries, variable_queries
from ops.prometheus.server import PrometheusServer
from ops.stack.manager import MONITORING_SERVICES, StackManager
from ops.stack.pipeline import Pipeline, Role, settings_for_stack
from ops.stack.ports import free_ports
from ops.stack.settings import ADMIN, StackSettings
from schemas.models import Availability, AvailabilityStatus
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.reports import sales_report

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(1800)]

QUERIES = panel_queries()
#: "<dashboard>#<panel id> <refId>" -> why that query may return nothing in a healthy run.
MAY_BE_EMPTY: dict[str, str] = {}
STEP_S = 5.0


def key(query: PanelQuery) -> str:
    return f"{query.dashboard}#{query.panel_id} {query.ref_id}"


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str,
             check: Callable[[], None] = lambda: None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        check()
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def scalar(prometheus: PrometheusServer, promql: str) -> float:
    """The single value of ``promql`` now, 0 when it has none."""
    result = prometheus.query(promql)["result"]
    return float(result[0]["value"][1]) if result else 0.0


class SseReader(threading.Thread):
    """An app following /v1/stream, resuming with Last-Event-ID after each disconnect."""

    def __init__(self, url: str) -> None:
        super().__init__(name="sse-reader", daemon=True)
        self.url, self.events, self.connects = url, 0, 0
        self.stopping = threading.Event()

    def run(self) -> None:
        last: str | None = None
        while not self.stopping.is_set():
            try:
                headers = {"Last-Event-ID": last} if last else {}
                with httpx.stream("GET", f"{self.url}/v1/stream", headers=headers,
                                  timeout=httpx.Timeout(5.0, read=20.0)) as response:
                    self.connects += 1
                    for line in response.iter_lines():
                        if self.stopping.is_set():
                            return
                        if line.startswith("id:"):
                            last = line[3:].strip()
                        elif line.startswith("event:"):
                            self.events += 1
            except httpx.HTTPError:
                self.stopping.wait(0.5)


def slow_sse_client(host: str, port: int) -> socket.socket:
    """Opens /v1/stream and never reads: the gateway must drop it when its queue fills."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.sendall(f"GET /v1/stream HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    return sock


def first_record(settings: Settings, topic: str) -> tuple[bytes | None, bytes, list[Any] | None]:
    """Key, value and headers of the first record of ``topic`` that has a value."""
    consumer = make_consumer(settings.kafka, f"live-read-{uuid.uuid4().hex[:6]}")
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None and msg.value() is not None:
                return msg.key(), bytes(msg.value() or b""), msg.headers()
    finally:
        consumer.close()
    raise AssertionError(f"no record on {topic}")


def copy_one_record(settings: Settings, topic: str) -> None:
    """Produce the first record of ``topic`` again (a producer retry: same fact, same id)."""
    record_key, value, headers = first_record(settings, topic)
    producer = make_producer(settings.kafka)
    producer.produce(topic, key=record_key, value=value, headers=headers)
    assert producer.flush(30) == 0


def burst_of_changes(settings: Settings, count: int = 200) -> None:
    """One performance's availability changing ``count`` times at once (a box office
    uploading a day of sales): more changes than an SSE client's queue holds."""
    registry = Registry(settings.registry)
    topic = settings.topic_prefix + AVAILABILITY
    # built here, not copied from the topic: the topic also holds this test's
    # deliberately undecodable record, which may well be the first one read
    encode = AvroSerializer(registry, topic, "availability.avsc")
    pid = "dip|NL-00-0000-0|3"
    now = datetime.now(UTC)
    produce(settings, [(topic, pid.encode(), encode(Availability(
        performance_id=pid, capacity=count + 50, sold=i, remaining=count + 50 - i,
        status=AvailabilityStatus.AVAILABLE, title="Burst", venue_name="Bench", city="Utrecht",
        start=now + timedelta(hours=5), version=i + 1, updated_at=now + timedelta(milliseconds=i))))
                       for i in range(count)])


def produce(settings: Settings, records: list[tuple[str, bytes, bytes | None]]) -> None:
    """Produce ``(topic, key, value)`` records and wait for Kafka's acknowledgement."""
    producer = make_producer(settings.kafka)
    for topic, record_key, value in records:
        producer.produce(topic, key=record_key, value=value)
    assert producer.flush(30) == 0


@dataclass
class LiveRun:
    prometheus: PrometheusServer
    start: float
    end: float = 0.0
    truth: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def live(stack: StackSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    manager = StackManager(stack, echo=lambda _: None)
    running = {row.name for row in manager.status(MONITORING_SERVICES) if row.healthy}
    started = [name for name in MONITORING_SERVICES if name not in running]
    previous_targets = manager.prometheus.targets()
    manager.up(list(MONITORING_SERVICES))
    prometheus = manager.prometheus.server
    gw_port, sink_port, streams_port, webhook_port, es_port, uit_port = free_ports(6)
    prefix = f"live{uuid.uuid4().hex[:6]}"
    bus = settings_for_stack(Settings(
        topic_prefix=f"{prefix}.", clickhouse={"database": prefix}, gateway={"port": gw_port},
        sink={"metrics_port": sink_port}, streams={"web_port": streams_port},
        connector={"http_port": webhook_port}), stack)
    state = tmp_path_factory.mktemp("live")
    pipeline = Pipeline(bus, stack, state, gateway_args=["--client-queue", "16"], env_extra={
        "CULTUURBUS_SINK__BACKOFF_MAX_S": "2", "CULTUURBUS_CONNECTOR__POLL_INTERVAL_S": "1",
        "CULTUURBUS_LOG_FORMAT": "text"})
    now = datetime.now(UTC)
    ticketmatic = FakeTicketmatic([*generate_feed(30, events=2),
                                   webshop_item(stream_id(30), now, 500_999)]).start()
    uit = FakeUitdatabank().start()
    uit.add(uit_event(1, starts=[now + timedelta(days=2)], modified=uit.tick()))
    uit.add(uit_event(2, starts=[now + timedelta(days=3)], modified=uit.tick(), calendar_type="periodic"))
    pollers = [
        Role("eventstream", ["connector", "eventstream", "--base-url", ticketmatic.base_url,
                             "--account", "acme", "--name", "eventstream-live"],
             pipeline.logs / "eventstream.log", "connector", f"127.0.0.1:{es_port}"),
        Role("uitdatabank", ["connector", "uitdatabank", "--base-url", uit.url, "--client-id", "live",
                             "--settle-seconds", "0", "--name", "uitdatabank-live"],
             pipeline.logs / "uitdatabank.log", "connector", f"127.0.0.1:{uit_port}"),
    ]
    reader = SseReader(pipeline.gateway_url)
    slow: socket.socket | None = None
    sim: Role | None = None
    run = LiveRun(prometheus, start=time.time())

    def check() -> None:
        pipeline.check()
        for role in pollers:
            if not role.alive():
                raise AssertionError(f"{role.name} stopped; see {role.log}")

    try:
        pipeline.prepare()
        pipeline.start()
        env = pipeline.env()
        for role, port in zip(pollers, (es_port, uit_port), strict=True):
            role.start({**env, "CULTUURBUS_CONNECTOR__METRICS_PORT": str(port)})
        targets = pipeline.targets()
        targets["connector"] += [str(role.address) for role in pollers]
        manager.prometheus.set_targets(targets)
        pipeline.wait_ready()
        wait_for(lambda: all(role.ready() for role in pollers), 60, "the pollers' /healthz", check)
        reader.start()
        slow = slow_sse_client(bus.gateway.host, gw_port)
        httpx.get(f"{pipeline.gateway_url}/v1/lastminute", timeout=10).raise_for_status()

        # Bad input a healthy bus must dead-letter (and count): a webhook with a negative
        # price, and records no schema can decode on the raw and the derived topics.
        order = eventix_order(event_id=f"e-{uuid.uuid4().hex[:8]}")
        order["tickets"][0]["price"] = -100
        nonce = vendor_credentials(pipeline.webhook_secret)["openticket_nonces"]["eventix"]
        bad = eventix_delivery("acme", None, "order.paid", order, nonce=nonce)  # as OpenTicket sends it
        answer = httpx.post(f"{pipeline.webhook_url}{bad.path}", content=bad.body, headers=bad.headers,
                            timeout=30)
        assert answer.status_code == 422, answer.text
        p = bus.topic_prefix
        observer = settings_for_stack(bus, stack, ADMIN)  # the test injects faults as a super user
        produce(observer, [(p + TICKET_EVENTS, b"dip|NL-00-0000-0|1", b"\x00not avro"),
                      (p + AVAILABILITY, b"dip|NL-00-0000-0|1", b"\x00not avro"),
                      (p + AVAILABILITY, b"dip|NL-00-0000-0|2", None)])

        sim = pipeline.simulator(simulator_args(DemoOptions(short=True)), state / "ground_truth.json")
        sim.start(env)
        wait_for(lambda: scalar(prometheus, "sum(cultuurbus_sink_rows_written_total)") > 0, 300,
                 "the sink to write its first rows", check)

        # ClickHouse away while facts arrive: inserts fail, the sink waits and catches up.
        manager.down(["clickhouse"])
        try:
            copy_one_record(observer, p + TICKET_EVENTS)  # a redelivered fact: one more insert
            wait_for(lambda: scalar(prometheus, "sum(cultuurbus_sink_insert_failures_total)") > 0, 120,
                     "the sink to count a failed insert", check)
        finally:
            manager.up(["clickhouse"])

        wait_for(lambda: sim is not None and not sim.alive(), 900, "the simulator to deliver the season",
                 check)
        assert sim.proc is not None and sim.proc.returncode == 0, (state / "logs" / "simulator.log").read_text()[-3000:]
        run.truth = json.loads((state / "ground_truth.json").read_text())
        ids, want = set(run.truth["performances"]), run.truth["totals"]["sold"]
        client = connect_clickhouse(bus.clickhouse)

        def sold_in_clickhouse() -> int:
            occupancy = sales_report(client, limit=100_000)[0]
            col = occupancy.columns.index("sold")
            return sum(int(r[col] or 0) for r in occupancy.rows if r[0] in ids)

        wait_for(lambda: sold_in_clickhouse() == want, 300, f"ClickHouse to hold the {want} tickets sold",
                 check)
        burst_of_changes(observer)
        wait_for(lambda: scalar(prometheus, "sum(cultuurbus_gateway_sse_clients_dropped_total)") > 0, 60,
                 "the gateway to drop an SSE client whose queue overflowed", check)
        done = time.time()
        # A series born just now (the drop counter, when the burst was the first overflow)
        # shows a rate only at a step with two samples in its window: the last step of the
        # range query (every STEP_S from the start) must come after a second scrape.
        wait_for(lambda: min(t.last_scrape for t in prometheus.active_targets()) > done + 4 + STEP_S, 60,
                 "more scrapes of every target, past the range query's last step", check)
        run.end = time.time()
        run.notes.append(f"{reader.events} SSE events read over {reader.connects} connections")
        yield run
    finally:
        reader.stopping.set()
        if slow is not None:
            slow.close()
        if sim is not None:
            sim.stop()
        for role in pollers:
            role.stop()
        pipeline.stop()
        ticketmatic.stop()
        uit.close()
        reader.join(timeout=30)
        if started:
            manager.down(started)
        else:
            manager.prometheus.set_targets(previous_targets, replace=True)
        try:
            connect_clickhouse(bus.clickhouse).command(f"DROP DATABASE IF EXISTS `{prefix}`")
        except Exception:  # noqa: BLE001 - best effort clean-up
            pass
        shutil.rmtree(state / "streams", ignore_errors=True)


def finite_values(data: dict[str, Any]) -> int:
    return sum(1 for series in data["result"] for _, value in series["values"]
               if math.isfinite(float(value)))


def test_every_role_of_the_pipeline_is_scraped_and_up(live: LiveRun) -> None:
    targets = live.prometheus.active_targets()
    by_job: dict[str, list[str]] = {}
    for target in targets:
        assert target.health == "up", target
        by_job.setdefault(target.job, []).append(target.instance)
    assert {job: len(instances) for job, instances in by_job.items()} == {
        "connector": 3, "streams": 1, "sink": 1, "gateway": 1, "kafka": 1}


@pytest.mark.parametrize("query", QUERIES, ids=key)
def test_panel_query_is_valid_and_shows_data_on_the_live_pipeline(live: LiveRun, query: PanelQuery) -> None:
    promql = expand(query.expr)
    data = live.prometheus.query_range(promql, live.start, live.end, STEP_S)  # raises on invalid PromQL
    if key(query) in MAY_BE_EMPTY:
        return
    assert finite_values(data) > 0, f"{query}: no value over the run for {promql}"


@pytest.mark.parametrize("variable", variable_queries(), ids=lambda v: f"{v[0]}-{v[1]}")
def test_dashboard_variable_finds_label_values_on_the_live_pipeline(live: LiveRun, variable: Any) -> None:
    assert live.prometheus.query(variable[2])["result"], f"variable {variable[1]}: no series"


def test_every_alerting_rule_evaluates_without_error_on_the_live_pipeline(live: LiveRun) -> None:
    groups = httpx.get(f"{live.prometheus.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) >= 10
    assert {rule["name"]: rule.get("lastError") for rule in rules if rule["health"] != "ok"} == {}


def test_the_allow_list_names_only_panels_that_exist() -> None:
    assert set(MAY_BE_EMPTY) <= {key(q) for q in QUERIES}


def test_panels_may_be_empty_only_with_a_reason() -> None:
    assert all(reason.strip() for reason in MAY_BE_EMPTY.values())


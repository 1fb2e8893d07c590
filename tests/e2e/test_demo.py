"""`cultuurbus demo --short` runs to its end against the real stack: the bus's final
availability matches the simulator's ground truth, the sales and audience monitors print
ClickHouse's figures for the season, and what the demo started is stopped again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from bus.kafka import make_consumer
from bus.tenants import INGEST_FAMILIES, ingest_topic
from ops.stack.manager import CORE_SERVICES, StackManager
from ops.stack.ports import free_ports
from ops.stack.process import port_is_free
from ops.stack.settings import ADMIN, StackSettings
from tests.support import REPO_ROOT as REPO

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def demo(stack: StackSettings) -> tuple[str, dict]:  # type: ignore[type-arg]
    """The output of one short demo with Prometheus, and the ground truth it wrote."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
    env.update({
        "CULTUURBUS_STACK_DIR": str(stack.dir),
        "CULTUURBUS_STACK_KAFKA_PORT": str(stack.kafka_port),
        "CULTUURBUS_STACK_KAFKA_CONTROLLER_PORT": str(stack.kafka_controller_port),
        "CULTUURBUS_STACK_REGISTRY_PORT": str(stack.registry_port),
        "CULTUURBUS_STACK_CLICKHOUSE_HTTP_PORT": str(stack.clickhouse_http_port),
        "CULTUURBUS_STACK_CLICKHOUSE_TCP_PORT": str(stack.clickhouse_tcp_port),
        "CULTUURBUS_STACK_PROMETHEUS_PORT": str(stack.prometheus_port),
        "CULTUURBUS_STACK_LAG_EXPORTER_PORT": str(stack.lag_exporter_port),
        "CULTUURBUS_STACK_DOWNLOADS_DIR": str(stack.downloads),
        "CULTUURBUS_TOPIC_PREFIX": f"demo{os.getpid()}.",
        "CULTUURBUS_CLICKHOUSE__DATABASE": f"demo{os.getpid()}",
        **dict(zip(("CULTUURBUS_GATEWAY__PORT", "CULTUURBUS_SINK__METRICS_PORT",
                    "CULTUURBUS_STREAMS__WEB_PORT", "CULTUURBUS_CONNECTOR__HTTP_PORT"),
                   map(str, free_ports(4)), strict=True)),
        "PYTHONPATH": str(REPO),
    })
    proc = subprocess.run([sys.executable, "-m", "ops.cli", "demo", "--short", "--minutes", "6"],
                          env=env, cwd=REPO, capture_output=True, timeout=840)
    out = proc.stdout.decode()
    assert proc.returncode == 0, out[-4000:] + proc.stderr.decode()[-3000:]
    truth = json.loads((Path(stack.dir) / "demo" / "ground_truth.json").read_text())
    return out, truth


def test_short_demo_runs_to_its_end_and_matches_the_truth(demo: tuple[str, dict]) -> None:  # type: ignore[type-arg]
    out, _ = demo
    assert "24/24 performances match the simulator's ground truth" in out


def test_the_demo_prints_the_sales_monitor_with_the_truths_tickets(demo: tuple[str, dict]) -> None:  # type: ignore[type-arg]
    out, truth = demo
    sold = truth["totals"]["sold"]
    assert sold > 0
    assert "sales monitor" in out
    assert f"{sold} tickets sold in ClickHouse for the season's 24 performances" in out
    assert "matches the ground truth" in out
    for table in ("occupancy", "revenue per ticket type", "sales curve"):
        assert table in out
    revenue = re.search(r"revenue EUR ([\d,]+\.\d\d)", out)
    assert revenue is not None and float(revenue.group(1).replace(",", "")) > 0


def test_the_demo_prints_the_audience_monitor(demo: tuple[str, dict]) -> None:  # type: ignore[type-arg]
    out, _ = demo
    assert "audience monitor" in out
    assert re.search(r"first-time\s*│\s*\d+", out), out[-3000:]
    assert "reach" in out and "visit frequency" in out


def test_the_demo_ran_prometheus_and_stopped_what_it_started(demo: tuple[str, dict],  # type: ignore[type-arg]
                                                            stack: StackSettings) -> None:
    out, _ = demo
    assert f"Prometheus       {stack.prometheus_url}" in out
    # The stack was running before the demo: the demo leaves it running, and stops the
    # Prometheus and lag exporter it started.
    assert "stack left running" in out
    rows = StackManager(stack, echo=lambda _: None).status()
    assert {row.name for row in rows} == set(CORE_SERVICES)
    assert all(row.healthy for row in rows)
    assert port_is_free("127.0.0.1", stack.prometheus_port)


def test_two_vendors_and_an_app_ran_as_their_own_tenants(demo: tuple[str, dict],  # type: ignore[type-arg]
                                                         stack: StackSettings) -> None:
    out, _ = demo
    for name in ("demo-eventix", "demo-stager", "demo-board"):
        assert f"tenant {name}" in out
    # Each vendor's facts reached the bus through its own ingest topic, which only that
    # vendor may write, and all of them counted: the truth comparison above.
    consumer = make_consumer(stack.kafka_client(ADMIN), f"check-{uuid.uuid4().hex[:6]}")
    try:
        for vendor in ("eventix", "stager"):
            topics = [ingest_topic(f"demo-{vendor}", family, f"demo{os.getpid()}.") for family in INGEST_FAMILIES]
            held = sum(high - low for low, high in (
                consumer.get_watermark_offsets(TopicPartition(t, p), timeout=10) for t in topics for p in range(4)))
            assert held > 0, f"nothing on {topics}"
    finally:
        consumer.close()

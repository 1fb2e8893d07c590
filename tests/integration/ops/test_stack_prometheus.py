"""`cultuurbus stack up --with-prometheus`: Prometheus and the lag exporter as stack
services, scraping targets generated from the roles' ports, changed without a restart."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry, Counter

from bus.metrics import MetricsServer
from bus.settings import Settings
from ops.prometheus.config import PROMETHEUS_RELEASE
from ops.stack.cli import stack as stack_cli
from ops.stack.manager import CORE_SERVICES, MONITORING_SERVICES, StackManager
from ops.stack.settings import StackSettings
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]  # a cold Prometheus build takes minutes

ROLE_PORTS = Settings(connector={"http_port": 28090, "metrics_port": 28091}, streams={"web_port": 28092},
                      sink={"metrics_port": 28093}, gateway={"port": 28094})


@pytest.fixture(scope="module")
def monitored(stack: StackSettings) -> Iterator[StackManager]:
    """The session's stack with Prometheus and the lag exporter; both stopped after."""
    lines: list[str] = []
    manager = StackManager(stack, echo=lines.append, bus=ROLE_PORTS)
    running = manager.prometheus.server.healthy()
    if not running:  # a first start generates the target files
        shutil.rmtree(manager.prometheus.server.targets_dir, ignore_errors=True)
    try:
        manager.up(with_prometheus=True)
        if running:  # a reused stack (CULTUURBUS_TEST_REUSE_STACK=1) keeps its files: reset them
            manager.prometheus.reset_targets()
        yield manager
    finally:
        manager.down(list(MONITORING_SERVICES))


def scraped(manager: StackManager) -> dict[tuple[str, str], str]:
    return {(t.job, t.instance): t.health for t in manager.prometheus.scraped()}


def test_with_prometheus_the_status_shows_prometheus_and_the_lag_exporter_healthy(
        monitored: StackManager, stack: StackSettings) -> None:
    rows = {row.name: row for row in monitored.status()}

    assert set(rows) == {*CORE_SERVICES, *MONITORING_SERVICES}
    assert rows["prometheus"].healthy and rows["prometheus"].pid is not None
    assert rows["prometheus"].version == PROMETHEUS_RELEASE
    assert rows["prometheus"].address == stack.prometheus_url
    assert rows["lag-exporter"].healthy
    result = CliRunner().invoke(stack_cli, ["status"], obj=stack)
    assert result.exit_code == 0, result.output
    assert "prometheus" in result.output and stack.prometheus_url in result.output


def test_targets_are_generated_from_the_roles_ports_and_the_lag_exporter_is_scraped(
        monitored: StackManager, stack: StackSettings) -> None:
    assert monitored.prometheus.targets() == {
        "connector": ["127.0.0.1:28090", "127.0.0.1:28091"], "streams": ["127.0.0.1:28092"],
        "sink": ["127.0.0.1:28093"], "gateway": ["127.0.0.1:28094"],
        "kafka": [stack.lag_exporter_address]}
    wait_for(lambda: scraped(monitored).get(("kafka", stack.lag_exporter_address)) == "up", 30,
               "Prometheus to scrape the lag exporter")
    up = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": "cultuurbus_kafka_lag_exporter_up"},
                   timeout=5).json()["data"]["result"]
    assert [s["value"][1] for s in up] == ["1"]


def test_prometheus_loads_the_alerting_rules(monitored: StackManager, stack: StackSettings) -> None:
    groups = httpx.get(f"{stack.prometheus_url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    names = {rule["name"] for group in groups for rule in group["rules"]}
    assert {"CultuurbusConsumerLagGrowing", "CultuurbusDeadLetters", "CultuurbusAvailabilityStale"} <= names


def test_stack_targets_set_changes_what_is_scraped_without_restarting_prometheus(
        monitored: StackManager, stack: StackSettings) -> None:
    registry = CollectorRegistry()
    Counter("cultuurbus_test_ticks", "Ticks.", registry=registry).inc(5)
    endpoint = MetricsServer(registry, 0).start()
    pid = next(row.pid for row in monitored.status(["prometheus"]))
    address = f"127.0.0.1:{endpoint.port}"
    try:
        result = CliRunner().invoke(stack_cli, ["targets", "--set", f"streams={address}"], obj=stack)
        assert result.exit_code == 0, result.output
        assert address in result.output

        wait_for(lambda: scraped(monitored).get(("streams", address)) == "up", 30,
                   "Prometheus to scrape the new streams target")
        shown = CliRunner().invoke(stack_cli, ["targets"], obj=stack).output
        assert any(line.split()[:3] == ["streams", address, "up"] for line in shown.splitlines()), shown
        assert next(row.pid for row in monitored.status(["prometheus"])) == pid
    finally:
        endpoint.close()
        monitored.prometheus.set_targets({"streams": ["127.0.0.1:28092"]})


def test_stack_targets_refuses_an_address_that_is_not_host_port(stack: StackSettings,
                                                                 monitored: StackManager) -> None:
    result = CliRunner().invoke(stack_cli, ["targets", "--set", "sink=http://127.0.0.1:1/metrics"],
                                obj=stack)

    assert result.exit_code == 1
    assert "not host:port" in result.output
    assert monitored.prometheus.targets()["sink"] == ["127.0.0.1:28093"]


def test_the_target_files_are_what_prometheus_reads(monitored: StackManager) -> None:
    config = json.loads(monitored.prometheus.server.config_file.read_text())
    files = {job["job_name"]: job["file_sd_configs"][0]["files"][0] for job in config["scrape_configs"]}
    assert set(files) >= {"connector", "streams", "sink", "gateway", "kafka"}
    for job, path in files.items():
        assert path.endswith(f"/targets/{job}.json")


def test_down_stops_and_forgets_the_monitoring_services(stack: StackSettings) -> None:
    manager = StackManager(stack, echo=lambda _: None, bus=ROLE_PORTS)
    manager.up(with_prometheus=True)
    assert {row.name for row in manager.status()} >= set(MONITORING_SERVICES)

    manager.down(list(MONITORING_SERVICES))

    assert {row.name for row in manager.status()} == set(CORE_SERVICES)
    assert all(row.healthy for row in manager.status())  # the core stack runs on
    assert not StackManager(stack).prometheus.server.healthy()

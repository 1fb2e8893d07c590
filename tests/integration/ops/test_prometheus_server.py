"""PrometheusServer against a real Prometheus process: config, lifecycle, query, reload."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter

from bus.metrics import MetricsServer
from ops.prometheus.build import PrometheusBinaries, build
from ops.prometheus.config import ROLES, default_cache_dir
from ops.prometheus.errors import PrometheusError, PrometheusQueryError, PrometheusStartError
from ops.prometheus.server import PrometheusServer, rule_files
from ops.stack.ports import free_ports

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]  # a cold build takes minutes

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def binaries() -> PrometheusBinaries:
    return build(default_cache_dir(root=REPO_ROOT / ".stack"))


@pytest.fixture()
def endpoint() -> Iterator[str]:
    registry = CollectorRegistry()
    Counter("cultuurbus_test_ticks", "Ticks.", registry=registry).inc(3)
    server = MetricsServer(registry, 0).start()
    try:
        yield f"127.0.0.1:{server.port}"
    finally:
        server.close()


@pytest.fixture()
def prometheus(tmp_path: Path, binaries: PrometheusBinaries, endpoint: str) -> Iterator[PrometheusServer]:
    (port,) = free_ports(1)
    server = PrometheusServer(tmp_path / "prometheus", port, {"connector": [endpoint]},
                              binaries=binaries)
    try:
        yield server.start(echo=lambda _: None)
    finally:
        server.stop()


def wait_for(server: PrometheusServer, promql: str, count: int = 1, timeout_s: float = 20.0) -> list:
    deadline = time.monotonic() + timeout_s
    result: list = []
    while time.monotonic() < deadline:
        result = server.query(promql)["result"]
        if len(result) >= count:
            return result
        time.sleep(0.5)
    raise AssertionError(f"{promql!r} returned {result} after {timeout_s}s")


def test_generated_config_passes_promtool_check_config(tmp_path: Path, binaries: PrometheusBinaries) -> None:
    server = PrometheusServer(tmp_path, 9999, {"connector": ["127.0.0.1:9401"], "streams": [],
                                               "kafka": ["127.0.0.1:9409"]}, binaries=binaries)
    config = server.write_config()
    done = subprocess.run([str(binaries.promtool), "check", "config", str(config)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
    text = config.read_text()
    assert '"scrape_interval": "2s"' in text
    for job in (*ROLES, "kafka"):
        assert f'"job_name": "{job}"' in text
    for rules in rule_files(server.rules_dir):  # type: ignore[arg-type]
        assert str(rules) in text
    assert not any(p.name.startswith("tests") for p in rule_files(server.rules_dir))  # type: ignore[arg-type]


def test_a_started_server_is_ready_scrapes_its_targets_and_loads_the_rules(
        prometheus: PrometheusServer, endpoint: str) -> None:
    assert prometheus.healthy()
    up = wait_for(prometheus, 'up{job="connector"} == 1')
    assert up[0]["metric"]["instance"] == endpoint
    ticks = wait_for(prometheus, "cultuurbus_test_ticks_total")
    assert ticks[0]["value"][1] == "3"
    import httpx

    groups = httpx.get(f"{prometheus.url}/api/v1/rules", timeout=5).json()["data"]["groups"]
    assert {g["name"] for g in groups} >= {"cultuurbus-kafka", "cultuurbus-dead-letters"}


def test_reload_adds_targets_without_a_restart(prometheus: PrometheusServer, endpoint: str) -> None:
    pid = prometheus.running_pid()
    other = MetricsServer(CollectorRegistry(), 0).start()
    try:
        prometheus.reload({"connector": [endpoint], "streams": [f"127.0.0.1:{other.port}"]})
        wait_for(prometheus, 'up{job="streams"} == 1')
        assert prometheus.running_pid() == pid
    finally:
        other.close()


def test_reload_rejects_a_target_that_is_not_host_port(prometheus: PrometheusServer) -> None:
    with pytest.raises(PrometheusError, match="not host:port"):
        prometheus.reload({"connector": ["http://127.0.0.1:9401/metrics"]})


def test_bad_promql_raises_a_query_error_naming_the_query(prometheus: PrometheusServer) -> None:
    with pytest.raises(PrometheusQueryError, match="bad_data") as info:
        prometheus.query("sum(rate(x[1m])")
    assert info.value.promql == "sum(rate(x[1m])"


def test_start_again_from_the_same_dir_reuses_the_running_server(
        prometheus: PrometheusServer, binaries: PrometheusBinaries, endpoint: str) -> None:
    pid = prometheus.running_pid()
    again = PrometheusServer(prometheus.dir, prometheus.port, {"connector": [endpoint]},
                             binaries=binaries).start(echo=lambda _: None)
    assert again.running_pid() == pid


def test_stop_ends_the_process_and_a_second_stop_is_harmless(prometheus: PrometheusServer) -> None:
    assert prometheus.stop() == "stopped"
    assert not prometheus.healthy()
    assert prometheus.running_pid() is None
    assert prometheus.stop() == "not running"


def test_start_on_a_taken_port_says_so(tmp_path: Path, binaries: PrometheusBinaries,
                                       prometheus: PrometheusServer) -> None:
    clash = PrometheusServer(tmp_path / "other", prometheus.port, {}, binaries=binaries)
    with pytest.raises(PrometheusStartError, match="already in use"):
        clash.start(echo=lambda _: None)

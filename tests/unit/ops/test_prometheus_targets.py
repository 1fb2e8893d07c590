"""Scrape configuration as data: file_sd target files per role, written from the roles'
ports, and the stack remembering that Prometheus was asked for (no process started)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bus.settings import Settings
from ops.prometheus.config import JOBS, check_targets, render_config, render_targets, role_targets
from ops.prometheus.errors import PrometheusError
from ops.prometheus.server import PrometheusServer
from ops.stack.cli import stack as stack_cli
from ops.stack.manager import CORE_SERVICES, StackManager
from ops.stack.settings import StackSettings


def test_every_job_reads_its_own_target_file_which_prometheus_watches(tmp_path: Path) -> None:
    config = json.loads(render_config(tmp_path / "targets", [tmp_path / "rules.yml"], jobs=["extra"]))

    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert list(jobs) == [*JOBS, "extra"]
    for name, job in jobs.items():
        assert job["file_sd_configs"] == [{"files": [str(tmp_path / "targets" / f"{name}.json")],
                                           "refresh_interval": "5s"}]
        assert "static_configs" not in job
    assert config["rule_files"] == [str(tmp_path / "rules.yml")]


def test_a_target_file_labels_its_targets_with_the_role_and_an_empty_role_has_none() -> None:
    assert json.loads(render_targets("sink", ["127.0.0.1:9402"])) == [
        {"targets": ["127.0.0.1:9402"], "labels": {"role": "sink"}}]
    assert json.loads(render_targets("sink", [])) == []


@pytest.mark.parametrize("bad", ["http://127.0.0.1:9402/metrics", "127.0.0.1", "host:port", ":9402"])
def test_an_address_that_is_not_host_port_is_refused_with_an_example(bad: str) -> None:
    with pytest.raises(ValueError, match=r"is not host:port, e\.g\. 127\.0\.0\.1:9400"):
        check_targets({"sink": [bad]})


def test_default_targets_follow_the_roles_configured_ports() -> None:
    settings = Settings(connector={"http_port": 1001, "metrics_port": 1002}, streams={"web_port": 1003},
                        sink={"metrics_port": 1004}, gateway={"host": "127.0.0.2", "port": 1005})

    assert role_targets(settings, "127.0.0.1:1006") == {
        "connector": ["127.0.0.1:1001", "127.0.0.1:1002"], "streams": ["127.0.0.1:1003"],
        "sink": ["127.0.0.1:1004"], "gateway": ["127.0.0.2:1005"], "kafka": ["127.0.0.1:1006"]}


def test_set_targets_rewrites_only_the_roles_given_and_replace_empties_the_others(tmp_path: Path) -> None:
    server = PrometheusServer(tmp_path, 9999, {"sink": ["127.0.0.1:1"], "gateway": ["127.0.0.1:2"]})
    server.write_config()

    server.set_targets({"sink": ["127.0.0.1:3", "127.0.0.1:4"]})
    assert server.read_targets()["sink"] == ["127.0.0.1:3", "127.0.0.1:4"]
    assert server.read_targets()["gateway"] == ["127.0.0.1:2"]

    server.set_targets({"streams": ["127.0.0.1:5"]}, replace=True)
    assert server.read_targets() == {"connector": [], "streams": ["127.0.0.1:5"], "sink": [],
                                     "gateway": [], "kafka": []}


def test_a_new_job_is_added_to_the_configuration(tmp_path: Path) -> None:
    server = PrometheusServer(tmp_path, 9999)
    server.write_config()

    server.set_targets({"dip-receiver": ["127.0.0.1:7"]})  # no server runs: no reload needed

    assert "dip-receiver" in server.configured_jobs()
    assert server.read_targets()["dip-receiver"] == ["127.0.0.1:7"]


def test_set_targets_refuses_a_bad_address_and_keeps_the_file(tmp_path: Path) -> None:
    server = PrometheusServer(tmp_path, 9999, {"sink": ["127.0.0.1:1"]})
    server.write_config()

    with pytest.raises(PrometheusError, match="not host:port"):
        server.set_targets({"sink": ["nope"]})
    assert server.read_targets()["sink"] == ["127.0.0.1:1"]


def test_a_stack_lists_prometheus_only_once_it_was_asked_for(tmp_path: Path) -> None:
    settings = StackSettings(dir=tmp_path / "stack")
    manager = StackManager(settings, echo=lambda _: None)
    assert [svc.name for svc in manager._select(None)] == list(CORE_SERVICES)

    (tmp_path / "stack").mkdir()
    (tmp_path / "stack" / "prometheus.enabled").touch()  # what `up --with-prometheus` leaves

    assert [svc.name for svc in StackManager(settings)._select(None)] == [*CORE_SERVICES, "prometheus"]


def test_down_forgets_that_prometheus_was_asked_for(tmp_path: Path) -> None:
    settings = StackSettings(dir=tmp_path)
    (tmp_path / "prometheus.enabled").touch()
    (tmp_path / "lag-exporter.enabled").touch()

    StackManager(settings, echo=lambda _: None).down()

    assert not list(tmp_path.glob("*.enabled"))
    assert [svc.name for svc in StackManager(settings)._select(None)] == list(CORE_SERVICES)


def test_stack_targets_without_prometheus_says_how_to_start_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(stack_cli, ["targets"], obj=StackSettings(dir=tmp_path))

    assert result.exit_code == 0
    assert "cultuurbus stack up --with-prometheus" in result.output


def test_stack_targets_shows_the_target_files_when_prometheus_is_down(tmp_path: Path) -> None:
    settings = StackSettings(dir=tmp_path, prometheus_port=1)
    PrometheusServer(tmp_path / "prometheus", 1, {"sink": ["127.0.0.1:9402"]}).write_config()

    result = CliRunner().invoke(stack_cli, ["targets", "--set", "streams=127.0.0.1:6066"], obj=settings)

    assert result.exit_code == 0, result.output
    lines = [line.split(None, 2) for line in result.output.splitlines()]
    assert ["sink", "127.0.0.1:9402", "(prometheus not running)"] in lines
    assert ["streams", "127.0.0.1:6066", "(prometheus not running)"] in lines

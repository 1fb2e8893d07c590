"""Prometheus and the consumer-lag exporter as services of the local stack.

Started only when asked (``cultuurbus stack up --with-prometheus``), then remembered
until ``stack down``. Layout under the stack directory::

    prometheus/prometheus.yml       generated: one scrape job per role, the alert rules
    prometheus/targets/<job>.json   file_sd target files: connector, streams, sink,
                                    gateway, kafka (the lag exporter)
    prometheus/data/                the TSDB
    prometheus.pid, lag-exporter.pid, logs/prometheus.log, logs/lag-exporter.log

Target files are written on first start from the roles' configured ports (the bus
settings: ``connector.http_port`` and ``connector.metrics_port``, ``streams.web_port``,
``sink.metrics_port``, ``gateway.port``) and kept afterwards; ``cultuurbus stack targets``
shows and changes them while Prometheus runs, and Prometheus follows within seconds.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx
from typing_extensions import override

from bus.settings import Settings, load_settings
from ops.prometheus.config import PROMETHEUS_RELEASE, PROMETHEUS_VERSION, role_targets
from ops.prometheus.server import PrometheusServer, ScrapeTarget
from ops.stack.service import Echo, Probe, Service
from ops.stack.settings import LOOPBACK, StackSettings
from ops.stack.tools import OPS_DIR

__all__ = ["LagExporterService", "PrometheusService"]

PROJECT_ROOT = OPS_DIR.parent


class PrometheusService(Service):
    """Prometheus built from the Go module proxy, scraping the roles named in its
    target files and evaluating the rules of ``ops/prometheus/rules``.

    Args:
        settings: The stack settings.
        root: Absolute stack directory.
        downloads: Absolute download cache (the build goes to ``prometheus/<version>``).
        bus: Bus settings whose ports give the default targets; read from the
            environment when ``None``.

    """

    name = "prometheus"
    start_timeout_s = 60.0
    stop_grace_s = 15.0

    def __init__(self, settings: StackSettings, root: Path, downloads: Path,
                 bus: Settings | None = None) -> None:
        super().__init__(settings, root, downloads)
        self.bus = bus
        self.server = PrometheusServer(self.work_dir, settings.prometheus_port,
                                       cache_dir=downloads / "prometheus" / PROMETHEUS_VERSION)

    @property
    @override
    def address(self) -> str:
        return self.settings.prometheus_url

    @override
    def ports(self) -> dict[int, str]:
        return {self.settings.prometheus_port: "CULTUURBUS_STACK_PROMETHEUS_PORT"}

    @override
    def installed_version(self) -> str | None:
        return PROMETHEUS_RELEASE if self.server.installed() is not None else None

    @override
    def fetch(self, echo: Echo) -> None:
        self.server.ensure_built(echo)

    def default_targets(self) -> dict[str, list[str]]:
        """Targets from the roles' configured ports and the stack's lag exporter."""
        bus = self.bus if self.bus is not None else load_settings()
        return role_targets(bus, self.settings.lag_exporter_address)

    @override
    def setup(self, echo: Echo) -> None:
        self.fetch(echo)
        written = self.server.read_targets()
        self.server.targets = {job: addresses for job, addresses in self.default_targets().items()
                               if job not in written}
        self.server.write_config()

    @override
    def command(self) -> list[str]:
        return self.server.command()

    @override
    def probe(self) -> Probe:
        if not self.server.healthy():
            return Probe(False, None, f"GET {self.address}/-/ready does not answer 200")
        return Probe(True, self.server.version(), "ready")

    # -- targets ---------------------------------------------------------------------
    def targets(self) -> dict[str, list[str]]:
        """What the target files say, per job."""
        return self.server.read_targets()

    def set_targets(self, targets: Mapping[str, Sequence[str]], *, replace: bool = False) -> None:
        """Scrape ``targets`` from now on; with ``replace`` other jobs are emptied.

        Raises:
            PrometheusError: An address is not ``host:port``.

        """
        self.server.set_targets(targets, replace=replace)

    def reset_targets(self) -> dict[str, list[str]]:
        """Back to the targets of the configured ports; returns them."""
        defaults = self.default_targets()
        self.server.set_targets(defaults, replace=True)
        return defaults

    def scraped(self) -> list[ScrapeTarget]:
        """What the running Prometheus scrapes and how it went (empty when it is down)."""
        if not self.server.healthy():
            return []
        return self.server.active_targets()


class LagExporterService(Service):
    """``python -m ops.prometheus.lag_exporter``: consumer lag of every group of the
    stack's Kafka, in records and seconds, on ``/metrics`` (job ``kafka``)."""

    name = "lag-exporter"
    start_timeout_s = 60.0
    stop_grace_s = 15.0
    interval_s = 5.0

    @property
    @override
    def address(self) -> str:
        return f"http://{self.settings.lag_exporter_address}/metrics"

    @property
    @override
    def marker(self) -> str:
        return f"ops.prometheus.lag_exporter --port {self.settings.lag_exporter_port}"

    @override
    def ports(self) -> dict[int, str]:
        return {self.settings.lag_exporter_port: "CULTUURBUS_STACK_LAG_EXPORTER_PORT"}

    @override
    def installed_version(self) -> str | None:
        try:
            return f"cultuurbus {importlib.metadata.version('cultuurbus')}"
        except importlib.metadata.PackageNotFoundError:
            return None

    @override
    def setup(self, echo: Echo) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)

    @override
    def command(self) -> list[str]:
        return [sys.executable, "-m", "ops.prometheus.lag_exporter",
                "--port", str(self.settings.lag_exporter_port), "--interval", f"{self.interval_s:g}"]

    @override
    def env(self) -> dict[str, str]:
        from ops.access.principals import LAG_EXPORTER

        env = dict(os.environ)
        # Its own principal: it may describe every group and topic, and read nothing.
        env.update(self.settings.client_env(LAG_EXPORTER))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p)
        return env

    @override
    def probe(self) -> Probe:
        url = f"http://{LOOPBACK}:{self.settings.lag_exporter_port}/healthz"
        try:
            response = httpx.get(url, timeout=3.0)
        except httpx.HTTPError as exc:
            return Probe(False, None, f"not answering: {exc}")
        if response.status_code != 200:
            return Probe(False, None, f"GET /healthz -> {response.status_code} (Kafka not read yet)")
        return Probe(True, self.installed_version(), "reading consumer lag")

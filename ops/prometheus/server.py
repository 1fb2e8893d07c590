"""A local Prometheus process that scrapes the bus's roles and evaluates its rules.

API (all a caller needs)::

    server = PrometheusServer(dir, port, {"connector": ["127.0.0.1:9400"], "streams": [...]})
    server.start()            # build once if needed, write prometheus.yml, spawn, wait ready
    server.healthy()          # GET /-/ready answers 200
    server.query("up")        # {"resultType": "vector", "result": [...]}; raises on bad PromQL
    server.reload({...})      # new targets: rewrite prometheus.yml, POST /-/reload
    server.stop()             # SIGTERM the recorded pid (SIGKILL after a grace period)

Lifecycle: ``start()`` runs once per start and is idempotent (a server already running
from the same ``dir`` is reloaded with the new targets instead); ``stop()`` may be
called from any process, because the pid is kept in ``<dir>/prometheus.pid`` and the
process runs in its own session, outliving the command that started it (what
``cultuurbus stack up --with-prometheus`` needs).

Files under ``dir``: ``prometheus.yml`` (generated: one job per role, ``connector``,
``streams``, ``sink``, ``gateway``, scraped every 2 s, plus the rule files),
``data/`` (TSDB), ``prometheus.log``, ``prometheus.pid``. It listens on
``127.0.0.1:<port>`` only, with ``--web.enable-lifecycle`` for reloads.

Rule files are every ``*.yml`` in ``rules_dir`` except ``tests*.yml`` (promtool unit
tests live beside the rules they test).

Consumer lag comes from ``python -m ops.prometheus.lag_exporter`` (port 9409 by
default): add it as ``targets["kafka"] = ["127.0.0.1:9409"]``; any job name beyond the
four roles gets its own job. To run Prometheus as a stack ``Service`` instead, use
``ensure_built()``, ``write_config()`` and ``command()`` and let the manager spawn it.

The binary has no web UI (see ``ops.prometheus.build``): use the API or Grafana.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from ops.prometheus.build import PrometheusBinaries, build
from ops.prometheus.config import RULES_DIR, SCRAPE_INTERVAL, render_config
from ops.prometheus.errors import PrometheusError, PrometheusQueryError, PrometheusStartError
from ops.stack.process import inspect_pid_file, is_alive, port_is_free, spawn_detached, terminate

__all__ = ["PrometheusServer", "rule_files"]

LOOPBACK = "127.0.0.1"


def rule_files(rules_dir: Path) -> list[Path]:
    """The rule files in ``rules_dir``: ``*.yml`` except promtool tests (``tests*.yml``)."""
    return sorted(path.resolve() for path in rules_dir.glob("*.yml")
                  if not path.name.startswith("tests"))


def _check_targets(targets: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    checked: dict[str, list[str]] = {}
    for job, addresses in targets.items():
        if isinstance(addresses, str):
            raise PrometheusError(f"targets[{job!r}] must be a list of host:port, not a string")
        for address in addresses:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or "/" in address:
                raise PrometheusError(f"targets[{job!r}]: {address!r} is not host:port, "
                                      "e.g. 127.0.0.1:9400")
        checked[job] = list(addresses)
    return checked


class PrometheusServer:
    """One Prometheus process rooted in ``dir``.

    Args:
        dir: Holds the config, the TSDB, the log and the pid file.
        port: Loopback port of the web/API listener.
        targets: ``host:port`` metrics endpoints per job (role).
        rules_dir: Directory of rule files; ``None`` loads no rules.
        binaries: Prebuilt binaries; by default they are built (once) into ``cache_dir``.
        cache_dir: Build cache, default ``.stack/downloads/prometheus/<version>``.
        scrape_interval: Scrape and evaluation interval.
        retention: ``--storage.tsdb.retention.time``.

    """

    def __init__(
        self,
        dir: Path,  # noqa: A002 - the name the stack manager uses
        port: int,
        targets: Mapping[str, Sequence[str]],
        rules_dir: Path | None = RULES_DIR,
        *,
        binaries: PrometheusBinaries | None = None,
        cache_dir: Path | None = None,
        scrape_interval: str = SCRAPE_INTERVAL,
        retention: str = "2d",
    ) -> None:
        self.dir = dir.resolve()
        self.port = port
        self.targets = _check_targets(targets)
        self.rules_dir = rules_dir
        self.binaries = binaries
        self.cache_dir = cache_dir
        self.scrape_interval = scrape_interval
        self.retention = retention

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:9090`` (Grafana's datasource points here)."""
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.dir / "prometheus.yml"

    @property
    def log_file(self) -> Path:
        return self.dir / "prometheus.log"

    @property
    def pid_file(self) -> Path:
        return self.dir / "prometheus.pid"

    def ensure_built(self, echo: Callable[[str], None] = print) -> PrometheusBinaries:
        """The binaries, built on first use (see :func:`ops.prometheus.build.build`)."""
        if self.binaries is None:
            self.binaries = build(self.cache_dir, echo=echo)
        return self.binaries

    def write_config(self) -> Path:
        """Write ``prometheus.yml`` for the current targets; returns its path."""
        self.dir.mkdir(parents=True, exist_ok=True)
        rules = rule_files(self.rules_dir) if self.rules_dir is not None else []
        text = render_config(self.targets, rules, scrape_interval=self.scrape_interval)
        scratch = self.config_file.with_suffix(".yml.tmp")
        scratch.write_text(text)
        scratch.replace(self.config_file)  # atomic: a reload never reads half a file
        return self.config_file

    def command(self) -> list[str]:
        """The argv of the server process."""
        binaries = self.ensure_built()
        return [
            str(binaries.prometheus),
            f"--config.file={self.config_file}",
            f"--storage.tsdb.path={self.dir / 'data'}",
            f"--storage.tsdb.retention.time={self.retention}",
            f"--web.listen-address={LOOPBACK}:{self.port}",
            "--web.enable-lifecycle",
            "--log.level=info",
        ]

    def running_pid(self) -> int | None:
        """Pid of our Prometheus when it runs (checked against ``dir``), else ``None``."""
        state = inspect_pid_file(self.pid_file, marker=str(self.dir))
        return state.pid if state.alive else None

    def start(self, timeout_s: float = 60.0, echo: Callable[[str], None] = print) -> PrometheusServer:
        """Build if needed, write the config, spawn Prometheus and wait for ``/-/ready``.

        Raises:
            PrometheusStartError: The port is taken, the process exited, or it was not
                ready within ``timeout_s``.

        """
        self.ensure_built(echo)
        if self.running_pid() is not None:
            self.reload(self.targets)
            return self
        self.write_config()
        if not port_is_free(LOOPBACK, self.port):
            raise PrometheusStartError(f"{LOOPBACK}:{self.port} is already in use by another "
                                       "process; choose another port", self.log_file)
        pid = spawn_detached(self.command(), cwd=self.dir, log_file=self.log_file,
                             pid_file=self.pid_file)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            # Our own unreaped child, so its pid cannot be recycled: no command-line check
            # (right after exec, /proc/<pid>/cmdline can read empty for a moment).
            if not is_alive(pid):
                raise PrometheusStartError(f"the process (pid {pid}) exited during start-up",
                                           self.log_file)
            if self.healthy():
                echo(f"prometheus: ready on {self.url}")
                return self
            time.sleep(0.2)
        self.stop()
        raise PrometheusStartError(f"not ready within {timeout_s:.0f}s", self.log_file)

    def stop(self, grace_s: float = 15.0) -> str:
        """Stop our Prometheus: ``"stopped"``, ``"killed"`` or ``"not running"``."""
        state = inspect_pid_file(self.pid_file, marker=str(self.dir))
        outcome = "not running"
        if state.pid is not None and state.alive:
            outcome = terminate(state.pid, grace_s=grace_s, marker=str(self.dir))
        self.pid_file.unlink(missing_ok=True)
        return outcome

    def healthy(self) -> bool:
        """``/-/ready`` answers 200 (the TSDB is open and the config loaded). Never raises."""
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def query(self, promql: str, at: float | None = None) -> dict[str, Any]:
        """Evaluate an instant query through ``/api/v1/query``.

        Args:
            promql: The expression.
            at: Evaluation time (Unix seconds); default now.

        Returns:
            The API's ``data``: ``{"resultType": ..., "result": [...]}``.

        Raises:
            PrometheusQueryError: Invalid PromQL, an evaluation error, or no answer.

        """
        form = {"query": promql}
        if at is not None:
            form["time"] = f"{at:.3f}"
        try:
            response = httpx.post(f"{self.url}/api/v1/query", data=form, timeout=10.0)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PrometheusQueryError(promql, f"no answer from {self.url}: {exc}") from exc
        if body.get("status") != "success":
            raise PrometheusQueryError(promql, f"{body.get('errorType')}: {body.get('error')}")
        data: dict[str, Any] = body["data"]
        return data

    def reload(self, targets: Mapping[str, Sequence[str]]) -> None:
        """Scrape ``targets`` from now on: rewrite the config and ``POST /-/reload``.

        Raises:
            PrometheusError: Prometheus rejected the new configuration (its message
                included) or did not answer.

        """
        self.targets = _check_targets(targets)
        self.write_config()
        try:
            response = httpx.post(f"{self.url}/-/reload", timeout=30.0)
        except httpx.HTTPError as exc:
            raise PrometheusError(f"prometheus at {self.url} did not answer the reload: {exc}; "
                                  "is it running? (start() it first)") from exc
        if response.status_code != 200:
            raise PrometheusError(f"prometheus rejected {self.config_file}: "
                                  f"{response.text.strip()}; read {self.log_file}")


def demo_prometheus(stack: Any, settings: Any, port: int = 9090) -> PrometheusServer:
    """A Prometheus for ``cultuurbus demo``: scrapes the demo's roles on their configured
    ports, under ``<stack dir>/prometheus``. Builds Prometheus on first use (minutes)."""
    targets = {
        "streams": [f"{LOOPBACK}:{settings.streams.web_port}"],
        "sink": [f"{LOOPBACK}:{settings.sink.metrics_port}"],
        "gateway": [f"{settings.gateway.host}:{settings.gateway.port}"],
    }
    server = PrometheusServer(Path(stack.dir) / "prometheus", port, targets)
    return server.start()

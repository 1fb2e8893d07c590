"""A local Prometheus process that scrapes the bus's roles and evaluates its rules.

API (all a caller needs)::

    server = PrometheusServer(dir, port, {"connector": ["127.0.0.1:9400"], "streams": [...]})
    server.start()             # build once if needed, write the config, spawn, wait ready
    server.healthy()           # GET /-/ready answers 200
    server.query("up")         # {"resultType": "vector", "result": [...]}; raises on bad PromQL
    server.query_range(q, start, end, step)   # a matrix, as a Grafana graph reads it
    server.set_targets({...})  # scrape other endpoints: rewrites target files, no restart
    server.active_targets()    # what Prometheus scrapes now, with health and last error
    server.stop()              # SIGTERM the recorded pid (SIGKILL after a grace period)

Lifecycle: ``start()`` runs once per start and is idempotent (a server already running
from the same ``dir`` gets the new targets instead); ``stop()`` may be called from any
process, because the pid is kept in ``<dir>/prometheus.pid`` and the process runs in
its own session, outliving the command that started it.

Files under ``dir``: ``prometheus.yml`` (generated: one job per role, ``connector``,
``streams``, ``sink``, ``gateway``, plus ``kafka`` for the consumer-lag exporter and any
other job given, scraped every 2 s, plus the rule files), ``targets/<job>.json`` (the
``file_sd`` target files Prometheus watches: rewriting one changes what is scraped
within seconds, without a restart or reload), ``data/`` (TSDB), ``prometheus.log``,
``prometheus.pid``. It listens on ``127.0.0.1:<port>`` only, with
``--web.enable-lifecycle`` for reloads.

Rule files are every ``*.yml`` in ``rules_dir`` except ``tests*.yml`` (promtool unit
tests live beside the rules they test).

The local stack runs this server as a service (``cultuurbus stack up --with-prometheus``,
see :mod:`ops.stack.prometheus`), using ``ensure_built()``, ``write_config()`` and
``command()`` and letting the stack manager spawn it.

The binary has no web UI (see ``ops.prometheus.build``): use the API or Grafana.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

from ops.prometheus.api import PrometheusApi, ScrapeTarget
from ops.prometheus.build import PrometheusBinaries, build, find_binaries
from ops.prometheus.config import (
    JOBS,
    PROMETHEUS_VERSION,
    RULES_DIR,
    SCRAPE_INTERVAL,
    check_targets,
    render_config,
    render_targets,
)
from ops.prometheus.errors import PrometheusError, PrometheusStartError
from ops.stack.process import inspect_pid_file, is_alive, port_is_free, spawn_detached, terminate

__all__ = ["PrometheusServer", "ScrapeTarget", "rule_files"]

LOOPBACK = "127.0.0.1"


def rule_files(rules_dir: Path) -> list[Path]:
    """The rule files in ``rules_dir``: ``*.yml`` except promtool tests (``tests*.yml``)."""
    return sorted(path.resolve() for path in rules_dir.glob("*.yml")
                  if not path.name.startswith("tests"))


def _checked(targets: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    try:
        return check_targets(targets)
    except ValueError as exc:
        raise PrometheusError(str(exc)) from None


def _write_atomically(path: Path, text: str) -> None:
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(text)
    scratch.replace(path)  # atomic: Prometheus never reads half a file


class PrometheusServer(PrometheusApi):
    """One Prometheus process rooted in ``dir``.

    Args:
        dir: Holds the config, the target files, the TSDB, the log and the pid file.
        port: Loopback port of the web/API listener.
        targets: ``host:port`` metrics endpoints per job (role); jobs not given keep
            their target file (or get an empty one).
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
        targets: Mapping[str, Sequence[str]] | None = None,
        rules_dir: Path | None = RULES_DIR,
        *,
        binaries: PrometheusBinaries | None = None,
        cache_dir: Path | None = None,
        scrape_interval: str = SCRAPE_INTERVAL,
        retention: str = "2d",
    ) -> None:
        self.dir = dir.resolve()
        self.port = port
        self.targets = _checked(targets or {})
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
    def targets_dir(self) -> Path:
        """``<dir>/targets``: one ``<job>.json`` per scrape job."""
        return self.dir / "targets"

    @property
    def log_file(self) -> Path:
        return self.dir / "prometheus.log"

    @property
    def pid_file(self) -> Path:
        return self.dir / "prometheus.pid"

    def installed(self) -> PrometheusBinaries | None:
        """The binaries when built already (never builds)."""
        if self.binaries is None and self.cache_dir is not None:
            self.binaries = find_binaries(self.cache_dir, PROMETHEUS_VERSION)
        return self.binaries

    def ensure_built(self, echo: Callable[[str], None] = print) -> PrometheusBinaries:
        """The binaries, built on first use (see :func:`ops.prometheus.build.build`)."""
        if self.binaries is None:
            self.binaries = build(self.cache_dir, echo=echo)
        return self.binaries

    # -- configuration -------------------------------------------------------------
    def configured_jobs(self) -> list[str]:
        """The jobs of the written ``prometheus.yml`` (none before ``write_config()``)."""
        try:
            config = json.loads(self.config_file.read_text())
        except (OSError, ValueError):
            return []
        return [str(job["job_name"]) for job in config.get("scrape_configs", [])]

    def read_targets(self) -> dict[str, list[str]]:
        """The targets per job as the target files say now."""
        found: dict[str, list[str]] = {}
        for path in sorted(self.targets_dir.glob("*.json")):
            try:
                groups = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            found[path.stem] = [address for group in groups for address in group.get("targets", [])]
        return found

    def _write_targets(self, job: str, addresses: Sequence[str]) -> None:
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.targets_dir / f"{job}.json", render_targets(job, addresses))

    def write_config(self) -> Path:
        """Write ``prometheus.yml`` and the target files of ``targets``; returns the config.

        Jobs of :data:`ops.prometheus.config.JOBS` without a target file get an empty one.
        """
        self.dir.mkdir(parents=True, exist_ok=True)
        for job, addresses in self.targets.items():
            self._write_targets(job, addresses)
        for job in JOBS:
            if not (self.targets_dir / f"{job}.json").exists():
                self._write_targets(job, [])
        jobs = sorted(set(self.read_targets()) | set(self.targets))
        rules = rule_files(self.rules_dir) if self.rules_dir is not None else []
        _write_atomically(self.config_file, render_config(
            self.targets_dir, rules, jobs=jobs, scrape_interval=self.scrape_interval))
        return self.config_file

    def set_targets(self, targets: Mapping[str, Sequence[str]], *, replace: bool = False) -> None:
        """Scrape ``targets`` from now on (within seconds), without a restart.

        Rewrites the target files of the jobs given; with ``replace`` every other job's
        file is emptied. A job the configuration lacks is added to it and a running
        server reloads.

        Raises:
            PrometheusError: An address is not ``host:port``, or Prometheus rejected
                the new configuration.

        """
        checked = _checked(targets)
        current = self.read_targets()
        if replace:
            checked = {**dict.fromkeys(current, []), **checked}
        for job, addresses in checked.items():
            self._write_targets(job, addresses)
        self.targets = {**current, **checked}
        configured = set(self.configured_jobs())
        if configured and set(checked) - configured:
            self.write_config()
            if self.healthy():  # running (here or as a stack service): load the new job
                self._post_reload()

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

    # -- lifecycle -----------------------------------------------------------------
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

    def reload(self, targets: Mapping[str, Sequence[str]]) -> None:
        """Scrape exactly ``targets`` from now on: rewrite the config and target files
        and ``POST /-/reload`` (which also re-reads the rule files).

        Raises:
            PrometheusError: An address is not ``host:port``, Prometheus rejected the new
                configuration (its message included) or did not answer.

        """
        self.set_targets(targets, replace=True)
        self.write_config()
        self._post_reload()

    def _post_reload(self) -> None:
        try:
            response = httpx.post(f"{self.url}/-/reload", timeout=30.0)
        except httpx.HTTPError as exc:
            raise PrometheusError(f"prometheus at {self.url} did not answer the reload: {exc}; "
                                  "is it running? (start() it first)") from exc
        if response.status_code != 200:
            raise PrometheusError(f"prometheus rejected {self.config_file}: "
                                  f"{response.text.strip()}; read {self.log_file}")

"""Bring the local stack up, down, and report on it.

Every piece of state lives under ``settings.dir``::

    <dir>/kafka.pid, registry.pid, clickhouse.pid (prometheus.pid, lag-exporter.pid)
    <dir>/logs/<service>.log
    <dir>/kafka/, <dir>/registry/, <dir>/clickhouse/ (<dir>/prometheus/)
    <dir>/<service>.enabled     an optional service was asked for (until `down`)
    <dir>/downloads/            (unless settings.downloads_dir points elsewhere)

The core services (Kafka, registry, ClickHouse) always run. The monitoring services
(Prometheus and the consumer-lag exporter) run only when asked, with
``up(with_prometheus=True)`` or by naming them; the stack then remembers them, so a
later ``up``, ``status`` and ``down`` include them, until a full ``down`` forgets them.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ops.stack.clickhouse import ClickHouseService
from ops.stack.errors import PortInUseError, ServiceStartError, StackError
from ops.stack.kafka import KafkaService
from ops.stack.process import inspect_pid_file, is_alive, port_is_free, spawn_detached, terminate
from ops.stack.prometheus import LagExporterService, PrometheusService
from ops.stack.registry import RegistryService
from ops.stack.service import Echo, Probe, Service, ServiceStatus
from ops.stack.settings import LOOPBACK, StackSettings

if TYPE_CHECKING:
    from bus.settings import Settings

__all__ = ["CORE_SERVICES", "MONITORING_SERVICES", "SERVICE_NAMES", "StackManager"]

#: Always part of the stack.
CORE_SERVICES: tuple[str, ...] = ("kafka", "registry", "clickhouse")
#: Part of the stack when asked for (``--with-prometheus``), then until ``down``.
MONITORING_SERVICES: tuple[str, ...] = ("prometheus", "lag-exporter")
SERVICE_NAMES: tuple[str, ...] = CORE_SERVICES + MONITORING_SERVICES


class StackManager:
    """Start, stop and inspect the services of one stack directory.

    Args:
        settings: Where the stack lives and which ports it binds.
        echo: Where progress lines go; ``click.echo`` by default.
        bus: Bus settings whose role ports give Prometheus's default targets; read
            from the environment when needed and not given.

    """

    def __init__(self, settings: StackSettings, *, echo: Echo | None = None,
                 bus: Settings | None = None) -> None:
        self.settings = settings
        self.root = settings.dir.resolve()
        downloads = settings.downloads.resolve()
        self.echo: Echo = echo if echo is not None else click.echo
        self.prometheus = PrometheusService(settings, self.root, downloads, bus)
        services: list[Service] = [cls(settings, self.root, downloads)
                                   for cls in (KafkaService, RegistryService, ClickHouseService)]
        services += [self.prometheus, LagExporterService(settings, self.root, downloads)]
        self.services: dict[str, Service] = {svc.name: svc for svc in services}

    def _enabled_file(self, name: str) -> Path:
        return self.root / f"{name}.enabled"

    def enabled(self, name: str) -> bool:
        """Whether a service is part of the stack now: a core one, an optional one that
        was asked for, or one whose pid file says it was started."""
        return (name in CORE_SERVICES or self._enabled_file(name).exists()
                or self.services[name].pid_file.exists())

    def _select(self, only: Iterable[str] | None) -> list[Service]:
        if only is None:
            return [svc for name, svc in self.services.items() if self.enabled(name)]
        wanted = list(only)
        unknown = [name for name in wanted if name not in self.services]
        if unknown:
            raise StackError(
                f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(SERVICE_NAMES)}"
            )
        return [svc for name, svc in self.services.items() if name in wanted]

    def _wanted(self, only: Iterable[str] | None, with_prometheus: bool) -> list[str] | None:
        """``only`` plus the monitoring services when asked (``None``: the enabled set)."""
        if not with_prometheus:
            return None if only is None else list(only)
        if only is None:
            return [name for name in self.services if self.enabled(name) or name in MONITORING_SERVICES]
        return list(dict.fromkeys([*only, *MONITORING_SERVICES]))

    def fetch(self, only: Iterable[str] | None = None, *, with_prometheus: bool = False) -> None:
        """Download what the selected services need (broker jars, registry; with
        ``with_prometheus`` the Prometheus build), once.

        Raises:
            MissingToolError: ``mvn`` is not installed and something is missing.
            StackError: Maven could not resolve a pom, or Go could not build Prometheus.

        """
        for svc in self._select(self._wanted(only, with_prometheus)):
            svc.fetch(self.echo)
            self.echo(f"{svc.name}: ready ({svc.installed_version() or 'nothing to fetch'})")

    def up(self, only: Iterable[str] | None = None, *, with_prometheus: bool = False) -> None:
        """Start the selected services (by default the core ones and the monitoring ones
        asked for earlier) and wait until healthy.

        ``with_prometheus`` adds Prometheus and the lag exporter and remembers them
        until ``down()``; naming a monitoring service in ``only`` remembers it too. A
        service that is already running and healthy is left alone. Services are
        spawned one after another and then awaited together.

        Raises:
            MissingToolError: ``java`` (or, on first run, ``mvn``/``go``) is not installed.
            PortInUseError: A port is taken by a process this stack did not start.
            ServiceStartError: A service did not become healthy; names its log.
            StackError: Several services failed; the message lists each.

        """
        self.root.mkdir(parents=True, exist_ok=True)
        selected = self._select(self._wanted(only, with_prometheus))
        for svc in selected:
            if svc.name in MONITORING_SERVICES:
                self._enabled_file(svc.name).touch()
        waiting: list[tuple[Service, int]] = []
        for svc in selected:
            state = inspect_pid_file(svc.pid_file, svc.marker)
            if state.alive and state.pid is not None:
                if svc.probe().healthy:
                    self.echo(f"{svc.name}: already running (pid {state.pid})")
                else:
                    self.echo(f"{svc.name}: running (pid {state.pid}) but not healthy yet, waiting…")
                    waiting.append((svc, state.pid))
                continue
            if state.stale:
                self.echo(f"{svc.name}: removing stale pid file (pid {state.pid} is gone)")
                svc.pid_file.unlink(missing_ok=True)
            for port, env_var in svc.ports().items():
                if not port_is_free(LOOPBACK, port):
                    raise PortInUseError(svc.name, f"{LOOPBACK}:{port}", env_var)
            svc.setup(self.echo)
            pid = spawn_detached(
                svc.command(),
                cwd=svc.cwd,
                log_file=svc.log_file,
                pid_file=svc.pid_file,
                env=svc.env(),
            )
            self.echo(f"{svc.name}: started (pid {pid}), log {svc.log_file}")
            waiting.append((svc, pid))

        failures: list[ServiceStartError] = []
        for svc, pid in waiting:
            try:
                probe = self._await_healthy(svc, pid)
                svc.configure(self.echo)
            except ServiceStartError as exc:
                failures.append(exc)
                continue
            except StackError as exc:
                failures.append(ServiceStartError(svc.name, str(exc), svc.log_file))
                continue
            self.echo(f"{svc.name}: healthy at {svc.address} ({probe.version or 'version unknown'})")
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise StackError("\n".join(str(f) for f in failures))

    def _await_healthy(self, svc: Service, pid: int) -> Probe:
        deadline = time.monotonic() + svc.start_timeout_s
        probe = Probe(False, None, "not probed yet")
        while time.monotonic() < deadline:
            if not is_alive(pid):
                raise ServiceStartError(svc.name, f"exited during start-up (pid {pid})", svc.log_file)
            probe = svc.probe()
            if probe.healthy:
                return probe
            time.sleep(0.5)
        raise ServiceStartError(
            svc.name,
            f"not healthy after {svc.start_timeout_s:.0f}s (pid {pid} still running; "
            f"last check: {probe.detail})",
            svc.log_file,
        )

    def down(self, only: Iterable[str] | None = None) -> None:
        """Stop the selected services (all that run by default), last started first.

        SIGTERM to the recorded pid, a bounded wait, SIGKILL as a last resort; pid
        files are removed and the stopped monitoring services forgotten (the next
        ``up`` starts them only when asked again). Stopping a stopped stack is fine.
        """
        for svc in reversed(self._select(only)):
            self._enabled_file(svc.name).unlink(missing_ok=True)
            state = inspect_pid_file(svc.pid_file, svc.marker)
            if state.alive and state.pid is not None:
                outcome = terminate(state.pid, grace_s=svc.stop_grace_s, marker=svc.marker)
                if outcome == "killed":
                    self.echo(
                        f"{svc.name}: did not stop within {svc.stop_grace_s:.0f}s, killed (pid {state.pid})"
                    )
                else:
                    self.echo(f"{svc.name}: stopped (pid {state.pid})")
            elif state.stale:
                self.echo(f"{svc.name}: not running (removed stale pid file)")
            else:
                self.echo(f"{svc.name}: not running")
            svc.pid_file.unlink(missing_ok=True)

    def status(self, only: Sequence[str] | None = None) -> list[ServiceStatus]:
        """Report each selected service (by default the core ones and the monitoring
        ones asked for) honestly: running and answering, or why not."""
        return [self._status_of(svc) for svc in self._select(only)]

    def _status_of(self, svc: Service) -> ServiceStatus:
        state = inspect_pid_file(svc.pid_file, svc.marker)
        if state.alive:
            probe = svc.probe()
            return ServiceStatus(
                name=svc.name,
                version=probe.version or svc.installed_version(),
                address=svc.address,
                healthy=probe.healthy,
                pid=state.pid,
                detail="healthy" if probe.healthy else f"running but not healthy: {probe.detail}",
            )
        if state.stale:
            detail = (
                f"down (stale pid file, pid {state.pid} is gone)"
                if state.pid is not None
                else "down (stale pid file)"
            )
        else:
            taken = [p for p in svc.ports() if not port_is_free(LOOPBACK, p)]
            detail = (
                f"down (port {', '.join(map(str, taken))} in use by a process this stack did not start)"
                if taken
                else "down"
            )
        return ServiceStatus(
            name=svc.name,
            version=svc.installed_version(),
            address=svc.address,
            healthy=False,
            pid=None,
            detail=detail,
        )

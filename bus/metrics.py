"""Metrics helpers: every long-running role serves ``/metrics`` and ``/healthz`` on its
own port. Metric containers take the registry they register into (tests pass a fresh
``CollectorRegistry``).

``Health`` says what ``/healthz`` (``ready_answer``) and ``/healthz/live``
(``live_answer``) answer, for the ASGI roles (``bus.ops_http``) and for
``MetricsServer``, the plain WSGI variant the pollers and the ClickHouse sink use.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any, ClassVar, Self
from weakref import WeakKeyDictionary
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from bus.errors import ConfigError

__all__ = ["PREFIX", "Health", "MetricsServer", "PerRegistry", "metric_name"]

PREFIX = "cultuurbus_"

#: Latency buckets (seconds) from 1 ms to 60 s, for fact-age and processing histograms.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0)


def metric_name(name: str) -> str:
    """``metric_name("records_in")`` -> ``cultuurbus_records_in``."""
    return name if name.startswith(PREFIX) else PREFIX + name


class Health:
    """Liveness and readiness of a role. ``ready`` checks run on every request."""

    def __init__(self) -> None:
        self._checks: dict[str, Callable[[], bool]] = {}
        self.live = True

    def add_check(self, name: str, check: Callable[[], bool]) -> None:
        self._checks[name] = check

    def report(self) -> dict[str, Any]:
        results: dict[str, bool] = {}
        for name, check in self._checks.items():
            try:
                results[name] = bool(check())
            except Exception:  # a failing check means not ready, never a crash
                results[name] = False
        return {"live": self.live, "ready": self.live and all(results.values()),
                "checks": results}

    def ready_answer(self) -> tuple[int, dict[str, Any]]:
        """``/healthz``: the report, 200 when ready, else 503 (``checks`` says why)."""
        report = self.report()
        return (200 if report["ready"] else 503), report

    def live_answer(self) -> tuple[int, dict[str, Any]]:
        """``/healthz/live``: ``{"live": ...}``, 200 while the process serves, else 503."""
        return (200 if self.live else 503), {"live": self.live}


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class MetricsServer:
    """Serves ``/metrics``, ``/healthz`` (200 when ready, 503 otherwise) and
    ``/healthz/live`` (200 while the process runs) on 127.0.0.1 by default.

    Lifecycle: ``start()`` binds and serves in a daemon thread; ``close()`` stops.


    Args:
        registry: what ``/metrics`` serves.
        port: where to listen (0: any free port; ``port`` says which after ``start``).
        host: the bind address.
        health: what ``/healthz`` reports.
        setting: how a user moves the port (named in the error when it is taken).

    """

    def __init__(self, registry: CollectorRegistry, port: int, host: str = "127.0.0.1",
                 health: Health | None = None, setting: str = "the role's port setting") -> None:
        self.registry = registry
        self.setting = setting
        self.health = health or Health()
        self.host = host
        self.port = port
        self._metrics_app = make_wsgi_app(registry)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/healthz"):
            status, body = (self.health.live_answer() if path == "/healthz/live"
                            else self.health.ready_answer())
            start_response("200 OK" if status == 200 else "503 Service Unavailable",
                           [("Content-Type", "application/json")])
            return [json.dumps(body).encode()]
        return self._metrics_app(environ, start_response)  # type: ignore[no-any-return]

    def start(self) -> MetricsServer:
        try:
            self._server = make_server(self.host, self.port, self._app, _Server, _QuietHandler)
        except OSError as exc:
            raise ConfigError(f"cannot serve /metrics on {self.host}:{self.port}: "
                              f"{exc.strerror or exc} (another role on this machine may use it); "
                              f"move it with {self.setting}") from exc
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics",
                                        daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


class PerRegistry:
    """A container of metrics declared once per registry: ``of(registry)`` returns the same
    container again, so several apps or mappings can share one connector context. A
    subclass declares its metrics in ``__init__(self, registry)``."""

    _by_registry: ClassVar[WeakKeyDictionary[CollectorRegistry, Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._by_registry = WeakKeyDictionary()

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    @classmethod
    def of(cls, registry: CollectorRegistry) -> Self:
        found: Self | None = cls._by_registry.get(registry)
        if found is None:
            found = cls._by_registry[registry] = cls(registry)
        return found

"""The gateway process: view + loader + tenant directory + app under the bus's one
runner (``bus.http.HttpServer``).

``Gateway(settings).serve()`` runs in the foreground (the CLI: SIGINT and SIGTERM shut it
down gracefully); ``start()`` / ``close()`` run it in a background thread (tests,
embedding). A taken port is a ``ConfigError`` naming the setting that moves it.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from bus.http import HttpServer
from bus.serde import Registry
from bus.settings import Settings
from sinks.gateway.app import GatewayParts, create_app
from sinks.gateway.auth import TenantGate
from sinks.gateway.loader import ViewLoader
from sinks.gateway.metrics import GatewayMetrics
from sinks.gateway.sse import Broadcaster
from sinks.gateway.view import View

__all__ = ["PORT_SETTING", "Gateway"]

#: How a user moves the gateway's port (named when it is taken).
PORT_SETTING = "`cultuurbus gateway --port N` or CULTUURBUS_GATEWAY__PORT"


class Gateway:
    """The availability gateway: a local view of the compacted topics served over HTTP,
    public, and to tenants by their API token (the tenant directory it follows).

    Lifecycle: ``__init__`` builds every part (nothing connects yet); ``serve()`` binds,
    starts the loader (from the app's lifespan) and serves until a signal; ``start()``
    does the same in a daemon thread and returns once the socket listens; ``stop()``
    only signals; ``close()`` stops and joins.

    Args:
        settings: bus settings; ``settings.gateway`` gives host, port, ring size, heartbeat.
        host: overrides ``settings.gateway.host``.
        port: overrides ``settings.gateway.port`` (0: any free port; see ``self.port``).
        client_queue: changes one SSE client may have pending before it is dropped.
        cors_origins: browser origins allowed to call the API from other sites (``*``: any).
        stream_max_s: SSE streams end after this many seconds (clients resume with their
            Last-Event-ID); None: they last until closed.
        registry: a metrics registry (default: a fresh one).

    """

    def __init__(self, settings: Settings, *, host: str | None = None, port: int | None = None,
                 client_queue: int = 1024, cors_origins: tuple[str, ...] = (),
                 stream_max_s: float | None = None,
                 registry: CollectorRegistry | None = None) -> None:
        g = settings.gateway
        self.settings = settings
        self.host = host or g.host
        self.metrics = GatewayMetrics(registry or CollectorRegistry())
        self.view = View(g.sse_buffer)
        self.broadcaster = Broadcaster(self.metrics, client_queue)
        self.loader = ViewLoader(settings, self.view, self.metrics,
                                 on_changes=self.broadcaster.notify_threadsafe,
                                 registry=Registry(settings.registry))
        self.tenants = TenantGate(kafka=settings.kafka, topic_prefix=settings.topic_prefix)
        self.parts = GatewayParts(self.view, self.broadcaster, self.metrics, g.heartbeat_s,
                                  ready=self.loader.ready, loader=self.loader,
                                  cors_origins=cors_origins, stream_max_s=stream_max_s,
                                  tenants=self.tenants)
        self.parts.health.add_check("view_loaded", self.loader.ready.is_set)
        self.parts.health.add_check("loader_running", lambda: self.loader.healthy)
        self.parts.health.add_check("tenants_loaded", lambda: self.tenants.ready)
        self.parts.health.add_check("tenants_reader_running", lambda: self.tenants.healthy)
        self.app = create_app(self.parts)
        self._http = HttpServer(self.app, self.host, g.port if port is None else port,
                                graceful_s=5.0, name="gateway", setting=PORT_SETTING)

    @property
    def port(self) -> int:
        """The port (the one picked, once bound, when 0 was asked for)."""
        return self._http.port

    @property
    def url(self) -> str:
        return self._http.url

    def serve(self) -> None:
        """Serve in the foreground until SIGINT/SIGTERM.

        Raises:
            ConfigError: the port is taken.

        """
        self._http.run()

    def start(self, timeout: float = 30.0) -> Gateway:
        """Serve in a daemon thread; returns once the server accepts connections.

        Raises:
            ConfigError: the port is taken.
            ServerStartError: the app did not start (the log says why) within ``timeout``.

        """
        self._http.start(timeout)
        return self

    def stop(self) -> None:
        self.broadcaster.close_threadsafe()
        self._http.stop(timeout=0)

    def close(self, timeout: float = 15.0) -> None:
        self.stop()
        self._http.stop(timeout)
        self.loader.close()
        self.tenants.close()

"""The gateway process: view + loader + app under uvicorn.

``Gateway(settings).serve()`` runs in the foreground (the CLI: uvicorn handles SIGINT and
SIGTERM); ``start()`` / ``close()`` run it in a background thread (tests, embedding).
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from prometheus_client import CollectorRegistry

from bus.log import get_logger
from bus.serde import Registry
from bus.settings import Settings
from sinks.gateway.app import GatewayParts, create_app
from sinks.gateway.errors import GatewayError
from sinks.gateway.loader import ViewLoader
from sinks.gateway.metrics import GatewayMetrics
from sinks.gateway.sse import Broadcaster
from sinks.gateway.view import View

__all__ = ["Gateway"]

log = get_logger(__name__)


class Gateway:
    """The availability gateway: a local view of the compacted topics served over HTTP.

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
        self.port = g.port if port is None else port
        self.metrics = GatewayMetrics(registry or CollectorRegistry())
        self.view = View(g.sse_buffer)
        self.broadcaster = Broadcaster(self.metrics, client_queue)
        self.loader = ViewLoader(settings, self.view, self.metrics,
                                 on_changes=self.broadcaster.notify_threadsafe,
                                 registry=Registry(settings.registry))
        self.parts = GatewayParts(self.view, self.broadcaster, self.metrics, g.heartbeat_s,
                                  ready=self.loader.ready, loader=self.loader,
                                  cors_origins=cors_origins, stream_max_s=stream_max_s)
        self.parts.health.add_check("view_loaded", self.loader.ready.is_set)
        self.parts.health.add_check("loader_running", lambda: self.loader.healthy)
        self.app = create_app(self.parts)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _bind(self) -> tuple[uvicorn.Server, socket.socket]:
        config = uvicorn.Config(self.app, host=self.host, port=self.port, log_config=None,
                                access_log=False, timeout_graceful_shutdown=5, lifespan="on")
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.set_inheritable(True)
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(config)
        return self._server, sock

    def serve(self) -> None:
        """Serve in the foreground until SIGINT/SIGTERM."""
        server, sock = self._bind()
        log.info("gateway listening", extra={"url": self.url})
        server.run(sockets=[sock])

    def start(self, timeout: float = 30.0) -> Gateway:
        """Serve in a daemon thread; returns once the server accepts connections."""
        server, sock = self._bind()
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                        name="gateway-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not server.started:
            raise GatewayError(f"gateway did not start listening on {self.url} within {timeout} s; "
                               "see the log above")
        log.info("gateway listening", extra={"url": self.url})
        return self

    def stop(self) -> None:
        self.broadcaster.close_threadsafe()
        if self._server is not None:
            self._server.should_exit = True

    def close(self, timeout: float = 15.0) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.loader.close()

"""The one runner of the bus's ASGI apps (webhook and DIP receivers, gateway) under uvicorn:
in the foreground (a CLI) or in a daemon thread (tests, embedding).

The runner binds the socket itself before uvicorn starts, so a taken port is a
``ConfigError`` naming the setting that moves it, in the foreground as in a thread.
Shutdown is graceful: SIGTERM/SIGINT (foreground) or ``stop()`` make uvicorn stop
accepting and let requests in flight finish for up to ``graceful_s`` seconds; then
``run()`` returns (the signal is not raised again), so the caller can still close what
it owns, e.g. flush a connector's producer.

An idle kept-alive connection stays open ``KEEP_ALIVE_S`` (75 s), not uvicorn's 5 s: a
client or proxy that reuses a connection the server is closing at that moment gets a
reset, no answer (a load balancer answers its client 502). The one that closes an idle
connection must be the client: load balancers drop idle connections after 60 s (AWS
ALB's default; nginx's upstream ``keepalive_timeout`` too), and httpx and requests'
pools after 5 s or less. A webhook sender retries a reset delivery later, but the sale
reaches the bus late and shows as a failed delivery in the vendor's dashboard.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Self

import uvicorn
from starlette.types import ASGIApp

from bus.errors import BusError, ConfigError
from bus.heap import settle
from bus.log import get_logger

__all__ = ["KEEP_ALIVE_S", "HttpServer", "ServerStartError", "bind"]

#: Seconds an idle kept-alive connection stays open: longer than a load balancer's idle
#: timeout (60 s) and an HTTP client pool's (5 s), so the client side closes it first.
KEEP_ALIVE_S = 75

log = get_logger(__name__)


class ServerStartError(BusError, RuntimeError):
    """The server bound its port but did not come to listen (the app's start-up failed,
    or it was too slow); the log above says why."""


class _Server(uvicorn.Server):
    """uvicorn raises a captured SIGTERM again once it has shut down, which would end the
    process before the caller closes what it owns; this one only shuts down."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit)
                     for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)


def bind(host: str, port: int, setting: str) -> socket.socket:
    """A TCP socket bound to ``host:port`` (0: any free port), ready for uvicorn.

    Raises:
        ConfigError: the port is taken (or the host is not this machine's); the message
            names ``setting``, which moves it.

    """
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so; without it an
    # answer's body waited ~40 ms for the client's delayed ACK after its headers.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot serve HTTP on {host}:{port}: {exc.strerror or exc} (another "
                          f"process on this machine may use it); move it with {setting}") from exc
    sock.set_inheritable(True)
    return sock


class HttpServer:
    """An ASGI app served by uvicorn on 127.0.0.1 by default.

    Lifecycle: ``__init__`` only configures; ``run()`` binds and serves in the calling
    (main) thread until SIGTERM/SIGINT; or ``start()`` binds, serves in a daemon thread
    and returns once the socket listens, and ``stop()`` signals shutdown and waits
    (bounded) for the thread. The app's lifespan events run at start and stop.

    Args:
        app: the ASGI app.
        host: interface to bind (127.0.0.1 unless a proxy in front needs otherwise).
        port: TCP port; 0 picks a free one (``port`` says which once bound).
        graceful_s: how long requests in flight may take at shutdown.
        name: names the serving thread (``<name>-http``) and the server in errors.
        setting: how a user moves the port (named in the error when it is taken).
        keep_alive_s: how long an idle kept-alive connection stays open (see the module).

    """

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 8090, *,
                 graceful_s: float = 10.0, name: str = "http",
                 setting: str = "the role's --port option", keep_alive_s: int = KEEP_ALIVE_S) -> None:
        self.host = host
        self.port = port
        self.name = name
        self.setting = setting
        config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False,
                                lifespan="on", timeout_graceful_shutdown=max(1, round(graceful_s)),
                                server_header=False, timeout_keep_alive=keep_alive_s)
        self._server = _Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _bind(self) -> socket.socket:
        sock = bind(self.host, self.port, self.setting)
        self.port = sock.getsockname()[1]
        log.info("http server listening", extra={"server": self.name, "url": self.url})
        return sock

    def _serve(self, sock: socket.socket) -> None:
        try:
            self._server.run(sockets=[sock])
        finally:
            sock.close()

    def run(self) -> None:
        """Bind and serve in this (main) thread until SIGTERM/SIGINT.

        Raises:
            ConfigError: the port is taken.

        """
        sock = self._bind()
        settle()  # what exists now lives as long as the process (bus.heap)
        self._serve(sock)

    def start(self, timeout: float = 15.0) -> Self:
        """Bind and serve in a daemon thread; returns once the socket listens.

        Raises:
            ConfigError: the port is taken.
            ServerStartError: the app's start-up failed, or the server did not listen
                within ``timeout`` seconds.

        """
        self._thread = threading.Thread(target=self._serve, args=(self._bind(),),
                                        name=f"{self.name}-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise ServerStartError(f"{self.name} server stopped before listening on "
                                       f"{self.host}:{self.port}; see the log above")
            if time.monotonic() > deadline:
                self.stop(timeout=1.0)
                raise ServerStartError(f"{self.name} server did not listen on {self.host}:"
                                       f"{self.port} within {timeout}s; see the log above")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Signal shutdown and wait up to ``timeout`` seconds (0: do not wait) for the
        serving thread."""
        self._server.should_exit = True
        if self._thread is not None and timeout > 0:
            self._thread.join(timeout)

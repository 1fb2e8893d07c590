"""An ASGI app under uvicorn: in the foreground (CLI) or in a thread (tests, embedding).

The receivers (webhook, DIP) serve their FastAPI app with ``HttpServer``. Shutdown is
graceful: SIGTERM/SIGINT (foreground) or ``stop()`` make uvicorn stop accepting, let
requests in flight finish (their facts acknowledged by Kafka) for up to ``graceful_s``
seconds, and return; the caller then closes its ``ConnectorContext``, which flushes the
producer.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, Self

import uvicorn
from fastapi import FastAPI

from bus.errors import BusError

__all__ = ["HttpServer", "ServerStartError"]


class ServerStartError(BusError, RuntimeError):
    """The server did not come to listen (port taken, app start-up failed, too slow).

    Also a ``RuntimeError``, which is what ``start()`` raised before this type existed.
    """


class _Server(uvicorn.Server):
    """uvicorn re-raises a captured SIGTERM once it has shut down, which would end the
    process before the caller closes the context and flushes the producer; this one only
    turns the signal into a graceful shutdown."""

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


def _why_not_listening(host: str, port: int) -> str:
    """Why uvicorn gave up before listening, as far as a second bind can tell."""
    if port == 0:
        return "see uvicorn's log above"
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except OSError as exc:
        return f"{host!r} does not resolve ({exc})"
    for family, kind, proto, _, addr in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(addr)
            except OSError as exc:
                return f"{exc.strerror or exc}; is the port free?"
    return "see uvicorn's log above"


class HttpServer:
    """Lifecycle: ``run()`` serves in the calling (main) thread until SIGTERM/SIGINT; or
    ``start()`` serves in a daemon thread and returns once the socket listens, and
    ``stop()`` signals shutdown and waits for the thread (bounded).

    Args:
        app: the ASGI app.
        host: interface to bind (127.0.0.1 unless a proxy in front needs otherwise).
        port: TCP port; 0 picks a free one (see ``port`` after ``start``).
        graceful_s: how long requests in flight may take at shutdown.
        lifespan: run the app's lifespan events (``"on"``) or not (``"off"``).
        name: names the serving thread (``<name>-http``) and the server in errors.

    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 8090, *,
                 graceful_s: float = 10.0, lifespan: Literal["on", "off"] = "on",
                 name: str = "http") -> None:
        self.host = host
        self.name = name
        self._config = uvicorn.Config(app, host=host, port=port, log_config=None,
                                      access_log=False, lifespan=lifespan,
                                      timeout_graceful_shutdown=int(graceful_s),
                                      server_header=False)
        self._server = _Server(self._config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        for srv in getattr(self._server, "servers", None) or []:
            for sock in srv.sockets:
                return int(sock.getsockname()[1])
        return int(self._config.port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def run(self) -> None:
        """Serve in this (main) thread until SIGTERM/SIGINT."""
        self._server.run()

    def start(self, timeout: float = 15.0) -> Self:
        """Serve in a daemon thread; returns once the socket listens.

        Raises:
            ServerStartError: uvicorn stopped before listening (the message says why
                when a second bind can tell, e.g. the port is taken) or did not listen
                within ``timeout`` seconds.

        """
        self._thread = threading.Thread(target=self._server.run, name=f"{self.name}-http",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        where = f"{self.host}:{self._config.port}"
        while not self._server.started:
            if not self._thread.is_alive():
                raise ServerStartError(
                    f"{self.name} server stopped before listening on {where}: "
                    f"{_why_not_listening(self.host, self._config.port)}")
            if time.monotonic() > deadline:
                self.stop(timeout=1.0)
                raise ServerStartError(f"{self.name} server did not listen on {where} within "
                                       f"{timeout}s; see uvicorn's log above")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Signal shutdown and wait (bounded) for the serving thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

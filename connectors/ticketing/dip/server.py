"""Serving an ASGI app with uvicorn: in the foreground (CLI) or in a thread (tests).

Shutdown is graceful: SIGTERM/SIGINT (foreground) or ``stop()`` stop accepting, let
calls in flight finish (their snapshots acknowledged) and return; the caller then
closes the ``ConnectorContext``, which flushes the producer.
"""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

__all__ = ["HttpServer"]


class HttpServer:
    """Lifecycle: ``run()`` blocks until a signal; or ``start()`` serves in a thread and
    ``stop()`` ends it (bounded).

    Args:
        app: the ASGI app.
        host: interface to bind.
        port: TCP port; 0 picks a free one (see ``port`` after ``start``).
        graceful_s: how long calls in flight may take at shutdown.

    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 8090, *,
                 graceful_s: float = 10.0) -> None:
        self.host = host
        self._config = uvicorn.Config(app, host=host, port=port, log_config=None,
                                      access_log=False, lifespan="off",
                                      timeout_graceful_shutdown=int(graceful_s),
                                      server_header=False)
        self._server = uvicorn.Server(self._config)
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

    def start(self, timeout: float = 15.0) -> HttpServer:
        """Serve in a daemon thread; returns once the socket listens."""
        self._thread = threading.Thread(target=self._server.run, name="dip-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start on {self.host}:{self._config.port} "
                                   f"within {timeout}s; is the port free?")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Signal shutdown and wait (bounded) for the serving thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

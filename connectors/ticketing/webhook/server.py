"""Serving the app with uvicorn: in the foreground (CLI) or in a thread (tests, embedding).

Shutdown is graceful: SIGTERM/SIGINT (foreground) or ``stop()`` make uvicorn stop
accepting, let requests in flight finish (their facts acknowledged by Kafka) for up to
``graceful_s`` seconds, and return; the caller then closes the ``ConnectorContext``,
which flushes the producer.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

__all__ = ["WebhookServer"]


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


class WebhookServer:
    """Lifecycle: ``run()`` blocks until a signal; or ``start()`` serves in a thread and
    ``stop()`` ends it (waits for the thread, bounded).

    Args:
        app: the ASGI app from ``create_app``.
        host: interface to bind (127.0.0.1 unless a proxy in front needs otherwise).
        port: TCP port; 0 picks a free one (see ``port`` after ``start``).
        graceful_s: how long requests in flight may take at shutdown.

    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 8090, *,
                 graceful_s: float = 10.0) -> None:
        self.host = host
        self._config = uvicorn.Config(app, host=host, port=port, log_config=None,
                                      access_log=False, lifespan="on",
                                      timeout_graceful_shutdown=int(graceful_s),
                                      server_header=False)
        self._server = _Server(self._config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        servers = getattr(self._server, "servers", None) or []
        for srv in servers:
            for sock in srv.sockets:
                return int(sock.getsockname()[1])
        return int(self._config.port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def run(self) -> None:
        """Serve in this (main) thread until SIGTERM/SIGINT."""
        self._server.run()

    def start(self, timeout: float = 15.0) -> WebhookServer:
        """Serve in a daemon thread; returns once the socket listens."""
        self._thread = threading.Thread(target=self._server.run, name="webhook-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"webhook server did not start on {self.host}:"
                                   f"{self._config.port} within {timeout}s; is the port free?")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Signal shutdown and wait (bounded) for the serving thread."""
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

"""Serving the DIP receiver's app with uvicorn: in the foreground (CLI) or in a thread
(tests); the lifecycle and graceful shutdown are ``connectors.sdk.http.HttpServer``'s.

Shutdown stops accepting, lets calls in flight finish (their snapshots acknowledged) and
returns; the caller then closes the ``ConnectorContext``, which flushes the producer.
"""

from __future__ import annotations

from fastapi import FastAPI

from connectors.sdk import http

__all__ = ["HttpServer"]


class HttpServer(http.HttpServer):
    """``connectors.sdk.http.HttpServer`` for the DIP app (it has no lifespan events).

    Args:
        app: the ASGI app.
        host: interface to bind.
        port: TCP port; 0 picks a free one (see ``port`` after ``start``).
        graceful_s: how long calls in flight may take at shutdown.

    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 8090, *,
                 graceful_s: float = 10.0) -> None:
        super().__init__(app, host, port, graceful_s=graceful_s, lifespan="off", name="dip")

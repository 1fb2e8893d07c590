"""Serving the webhook app with uvicorn: in the foreground (CLI) or in a thread (tests,
embedding); the lifecycle and graceful shutdown are ``connectors.sdk.http.HttpServer``'s.
"""

from __future__ import annotations

from fastapi import FastAPI

from connectors.sdk.http import HttpServer

__all__ = ["WebhookServer"]


class WebhookServer(HttpServer):
    """``HttpServer`` with the app's lifespan on: it closes the receiver and its API client.

    Args:
        app: the ASGI app from ``create_app``.
        host: interface to bind (127.0.0.1 unless a proxy in front needs otherwise).
        port: TCP port; 0 picks a free one (see ``port`` after ``start``).
        graceful_s: how long requests in flight may take at shutdown.

    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 8090, *,
                 graceful_s: float = 10.0) -> None:
        super().__init__(app, host, port, graceful_s=graceful_s, lifespan="on", name="webhook")

"""The ops endpoints of every ASGI role (webhook and DIP receivers, gateway), once:

=================  ==============================================================
``GET /healthz``       ``{"live", "ready", "checks"}``: 200 when ready, else 503
``GET /healthz/live``  ``{"live"}``: 200 while the process serves
``GET /metrics``       Prometheus text format of the role's registry
=================  ==============================================================

The answers are ``bus.metrics.Health``'s, the same as ``bus.metrics.MetricsServer``'s
(pollers, ClickHouse sink). Handlers are plain functions: FastAPI runs them in its
thread pool, so a readiness check that waits on Kafka never blocks the event loop.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from pydantic import BaseModel

from bus import metrics as _metrics

__all__ = ["Health", "Live", "ops_router"]


class Health(BaseModel):
    """``/healthz`` as the OpenAPI document shows it: ready when every check passes;
    ``checks`` names each."""

    live: bool
    ready: bool
    checks: dict[str, bool]


class Live(BaseModel):
    """``/healthz/live``."""

    live: bool


def ops_router(health: _metrics.Health, registry: CollectorRegistry, *,
               ready_summary: str = "Ready: every check passes",
               live_summary: str = "Live: the process serves",
               include_in_schema: bool = True) -> APIRouter:
    """``/healthz``, ``/healthz/live`` and ``/metrics`` for ``app.include_router``.

    Args:
        health: what the health endpoints report.
        registry: what ``/metrics`` serves.
        ready_summary: what ready means for this role (the OpenAPI summary).
        live_summary: what live means for this role (the OpenAPI summary).
        include_in_schema: list the endpoints in the app's OpenAPI document.

    """
    router = APIRouter(tags=["ops"], include_in_schema=include_in_schema)

    @router.get("/healthz", summary=ready_summary, response_model=Health,
                responses={503: {"model": Health,
                                 "description": "Not ready: `checks` says which check failed."}})
    def healthz() -> JSONResponse:
        status, body = health.ready_answer()
        return JSONResponse(body, status_code=status)

    @router.get("/healthz/live", summary=live_summary, response_model=Live)
    def live() -> JSONResponse:
        status, body = health.live_answer()
        return JSONResponse(body, status_code=status)

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response,
                responses={200: {"description": "Prometheus text format.",
                                 "content": {"text/plain": {"schema": {"type": "string"}}}}})
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router

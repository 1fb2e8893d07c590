"""The DIP-compatible HTTP receiver: the calls ticketing systems already make to DIP,
answered by the bus.

=======================================================================  ===================
``PUT /productions/{production}/performances/{number}/tickets/cumulative``       tickets per type
``PUT /productions/{production}/performances/{number}/reservations/cumulative``  reservations
``PUT /productions/{production}/performances/{number}/blocked-seats/cumulative`` blocked seats
``PUT /productions/{production}/performances/{number}/capacity``                 hall capacity
``GET /productions/{production}/performances/{number}/cumulative``               what is held
``GET /healthz``, ``/healthz/live``, ``/metrics``, ``/docs``
=======================================================================  ===================

Each accepted call publishes one ``SalesSnapshot`` on ``ticketing.snapshots`` keyed by
``dip|<production>|<number>`` and is answered 200 only after Kafka acknowledged it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from connectors.ticketing.dip.payloads import PARTS
from connectors.ticketing.dip.receiver import Answer, DipReceiver

__all__ = ["create_app"]

_PATH = "/productions/{production}/performances/{number}"
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Snapshot published and acknowledged by Kafka; the body shows the "
          "performance's merged numbers."},
    400: {"description": "Body is not a JSON object; dead-lettered."},
    401: {"description": "Missing or wrong bearer token (when the receiver has one)."},
    413: {"description": "Body over connector.max_body_bytes."},
    422: {"description": "A field is missing, negative or of the wrong type; `field` names it; "
          "dead-lettered."},
    503: {"description": "Kafka unavailable; send the call again after Retry-After."},
}


def _reply(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


def create_app(receiver: DipReceiver) -> FastAPI:
    """The ASGI app around a receiver (which owns the connector context)."""
    app = FastAPI(title="cultuurbus DIP receiver", version="1",
                  description="DIP-compatible cumulative sales calls, published to Kafka as "
                              "SalesSnapshot facts. Amounts are euro cents.")

    def route(part: str, suffix: str) -> None:
        model = PARTS[part]

        async def put(production: str, number: str, request: Request) -> JSONResponse:
            body = await request.body()
            return _reply(await run_in_threadpool(receiver.handle, part, production, number, body,
                                                  request.headers.get("authorization")))

        put.__name__ = f"put_{part.replace('-', '_')}"
        app.add_api_route(
            f"{_PATH}/{suffix}", put, methods=["PUT"], responses=_RESPONSES,
            summary=f"Cumulative {part} of one performance",
            openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                "schema": model.model_json_schema(by_alias=True)}}}})

    route("tickets", "tickets/cumulative")
    route("reservations", "reservations/cumulative")
    route("blocked-seats", "blocked-seats/cumulative")
    route("capacity", "capacity")

    @app.get(f"{_PATH}/cumulative", summary="What the receiver holds for one performance")
    async def current(production: str, number: str) -> JSONResponse:
        return _reply(await run_in_threadpool(receiver.current, production, number))

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        report = await run_in_threadpool(receiver.ctx.health.report)
        return JSONResponse(report, status_code=200 if report.get("ready") else 503)

    @app.get("/healthz/live", include_in_schema=False)
    async def live() -> JSONResponse:
        return JSONResponse({"live": True})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(receiver.ctx.metrics_registry),
                        media_type=CONTENT_TYPE_LATEST)

    return app

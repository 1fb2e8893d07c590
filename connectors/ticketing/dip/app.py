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
``dip|<production>|<number>`` and is answered 200 only after Kafka acknowledged it. A call
is judged on its headers first (token, declared size: 401/413 before a byte of the body
is read), then its body is read bounded and timed (413/408). With a token, every call
that takes or returns data needs it; health, metrics and the OpenAPI stay open.

A ``PUT`` goes straight from the fast path ``_Calls`` (``connectors.sdk.fastpath``) to
``_put``, skipping FastAPI's middleware, routing, dependency solving and exception layers
(about a fifth of the CPU of a call), and is awaited on the event loop
(``DipReceiver.handle_async``: no worker thread and thread wake-ups per call); the
FastAPI routes answer the same and stay for the OpenAPI document.

Perf notes (``python -m bench --only connectors``, 32 calls in flight, a shared
two-core machine): 909 -> 1,508 facts per CPU-second of the receiver, 312 -> 503
facts/s, p99 answer 440 -> 124 ms. A call waits for two acks in turn (the snapshot,
then its parts in ``connect.positions``), so its rate at a given concurrency is bound
by Kafka's round trip more than by CPU. Session 14: the fast path ahead of FastAPI's
middleware, orjson answers, the position's ack awaited without a task
(``Publisher.produce_raw_async``) and ``gc.freeze()`` at start (a full collection no
longer stops the calls in flight); the receiver's process is now CPU-bound. Session 15:
one timer for all waits on Kafka, ticket types by dict lookup, the young generation
collected less often (``bus.heap``). Rounds against earlier code, taking turns on one
machine (``python -m bench.receivers_ab``), are in ``bench/results/issue14/``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from bus.ops_http import ops_router
from connectors.sdk.body import BodyError, read_body
from connectors.sdk.fastpath import FastPathApp, JsonAnswer
from connectors.ticketing.dip import openapi
from connectors.ticketing.dip.receiver import Answer, DipReceiver

__all__ = ["create_app"]

_PATH = "/productions/{production}/performances/{number}"
#: The ``PUT`` calls: path after ``_PATH`` -> the part it carries.
_PARTS = {"tickets/cumulative": "tickets", "reservations/cumulative": "reservations",
          "blocked-seats/cumulative": "blocked-seats", "capacity": "capacity"}


def _reply(answer: Answer, *, close: bool = False) -> JsonAnswer:
    headers = {**answer.headers, "Connection": "close"} if close else answer.headers
    return JsonAnswer(answer.body, status_code=answer.status, headers=headers)


async def _put(receiver: DipReceiver, part: str, production: str, number: str,
               request: Request) -> JSONResponse:
    """One ``PUT``: judged on its headers, then its body read (bounded), then handled."""
    authorization = request.headers.get("authorization")
    refused = receiver.admit(part, authorization, request.headers.get("content-length"))
    if refused is not None:  # the body stays unread: close the connection after it
        return _reply(refused, close=True)
    try:
        body = await read_body(request, receiver.max_body, receiver.body_timeout_s)
    except BodyError as exc:
        return _reply(receiver.unread(part, exc))
    return _reply(await receiver.handle_async(part, production, number, body, authorization))


class _Calls:
    """The fast path (``connectors.sdk.fastpath``): ``PUT
    /productions/<p>/performances/<n>/<part>`` straight to ``_put``; everything else to
    FastAPI."""

    def __init__(self, receiver: DipReceiver) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        if scope["method"] == "PUT":
            parts = scope["path"].split("/", 5)
            if (len(parts) == 6 and parts[1] == "productions" and parts[3] == "performances"
                    and parts[2] and parts[4] and parts[5] in _PARTS):
                answer = await _put(self.receiver, _PARTS[parts[5]], parts[2], parts[4],
                                    Request(scope, receive))
                await answer(scope, receive, send)
                return
        await app(scope, receive, send)


def create_app(receiver: DipReceiver) -> FastAPI:
    """The ASGI app around a receiver (which owns the connector context)."""
    app = FastPathApp(title="cultuurbus DIP receiver", version="1",
                  description="DIP-compatible cumulative sales calls, published to Kafka as "
                              "SalesSnapshot facts. Amounts are euro cents.")
    secured = receiver.token is not None
    security = {"security": openapi.SECURITY} if secured else {}

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"status": "rejected", "error": f"{exc.detail}: no such call; see "
                             "/docs for the calls", "field": "path"},
                            status_code=exc.status_code, headers=exc.headers)

    def route(part: str, suffix: str) -> None:
        async def put(production: str, number: str, request: Request) -> JSONResponse:
            return await _put(receiver, part, production, number, request)

        put.__name__ = f"put_{part.replace('-', '_')}"
        app.add_api_route(
            f"{_PATH}/{suffix}", put, methods=["PUT"], responses=openapi.RESPONSES,
            summary=f"Cumulative {part} of one performance",
            openapi_extra={**openapi.body_doc(part), **security})

    for suffix, part in _PARTS.items():
        route(part, suffix)

    @app.get(f"{_PATH}/cumulative", summary="What the receiver holds for one performance",
             responses=openapi.HELD_RESPONSES, openapi_extra=security)
    async def current(production: str, number: str, request: Request) -> JSONResponse:
        return _reply(await run_in_threadpool(receiver.current, production, number,
                                              request.headers.get("authorization")))

    app.include_router(ops_router(receiver.ctx.health, receiver.ctx.metrics_registry,
                                  include_in_schema=False))
    openapi.install(app, secured=secured)
    app.fast_path = _Calls(receiver)
    return app

"""The FastAPI app: one POST endpoint per vendor shape, health and metrics.

=================================  ===========================================
``POST /webhooks/eventix/{acct}``  Eventix / OpenTicket order, ticket, scan triggers
``POST /webhooks/eventbrite/{a}``  Eventbrite actions (the receiver fetches api_url)
``POST /webhooks/stager/{acct}``   Stager push feed (cumulative -> snapshots)
``POST /webhooks/{v}/{a}/{token}`` the same, for accounts in mode url-token
``GET /healthz``                   200 when Kafka is reachable, else 503
``GET /healthz/live``              200 while the process serves
``GET /metrics``                   Prometheus text format (the context's registry)
``GET /docs``, ``/openapi.json``   OpenAPI
=================================  ===========================================

Metrics and health (``bus.ops_http``) are served by this app on the webhook port (the
CLI does not start the SDK's separate metrics server). The OpenAPI document
(``openapi.py``) says which headers each vendor must send (the signature or nonce,
Eventix's trigger), how each account is authenticated (``auth.py``), the triggers and
actions handled, and every status the server answers with its body; any other path or
method gets the same ``Refused`` body (404, 405).

Perf notes (``python -m bench --only connectors``, 32 deliveries in flight, a shared
two-core machine): Eventix ``order.paid`` 1,116 -> 1,508 facts per CPU-second of the
receiver (``_Deliveries`` and the publisher's one wake per delivery), 315 -> 648 facts/s,
p99 answer 408 -> 124 ms; with ``bus.http.bind`` naming ``IPPROTO_TCP`` (so asyncio sets
``TCP_NODELAY``: an answer's body no longer waits ~40 ms for the client's delayed ACK) and
uvicorn on httptools instead of h11, 1,197 facts/s at 1,893 per CPU-second, p99 99 ms.
What is left per delivery: mapping and pydantic (~a quarter), Avro and produce (~a fifth).
Session 14: the fast path ahead of FastAPI's middleware (``connectors.sdk.fastpath``),
answers by orjson, one JSON decoder, cached country spellings and ``gc.freeze()`` at start.
Session 15: fact ids without ``uuid.UUID``, a body's depth walked only when it could be
too deep, one timer for all waits on Kafka (``connectors.sdk.deadlines``), labelled
metrics looked up once and the young generation collected less often (``bus.heap``).
Rounds against the code of earlier sessions and of before issue #14, taking turns on
one machine (``python -m bench.receivers_ab``), are in ``bench/results/issue14/``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bus.ops_http import ops_router
from connectors.sdk.context import ConnectorContext
from connectors.sdk.fastpath import FastPathApp, JsonAnswer
from connectors.ticketing.webhook import eventbrite, eventix, stager
from connectors.ticketing.webhook.fetch import EventbriteClient
from connectors.ticketing.webhook.openapi import (
    WEBHOOK_RESPONSES,
    build_openapi,
    eventbrite_doc,
    eventix_doc,
    stager_doc,
)
from connectors.ticketing.webhook.receiver import Answer, Receiver
from connectors.ticketing.webhook.settings import WebhookSettings

__all__ = ["create_app"]


class _Deliveries:
    """The fast path (``connectors.sdk.fastpath``): a delivery (``POST
    /webhooks/<vendor>/<account>[/<token>]``) goes straight to ``Receiver.handle``;
    everything else (docs, health, metrics, other paths and methods) to FastAPI. The
    FastAPI routes of the deliveries stay for the OpenAPI document and answer the same;
    skipping FastAPI's routing, dependency solving and exception layers per delivery is
    about a sixth of the receiver's CPU per request.

    Either way a URL token (a webhook path's fourth segment) is masked in the request's
    path once the answer starts, so an access log, whoever turns one on, prints
    ``/webhooks/<vendor>/<account>/<token>`` and never the token.
    """

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        path = scope["path"]
        if not path.startswith("/webhooks/"):
            await app(scope, receive, send)
            return
        parts = path.split("/")
        if len(parts) > 4:
            send = _masking(scope, parts, send)
        if scope["method"] == "POST" and len(parts) in (4, 5) and all(parts[2:]):
            token = parts[4] if len(parts) == 5 else None
            answer = await self.receiver.handle(parts[2], parts[3], Request(scope, receive), token)
            await _reply(answer)(scope, receive, send)
            return
        await app(scope, receive, send)


def _masking(scope: Scope, parts: list[str], send: Send) -> Send:
    """``send``, masking the URL token in ``scope``'s path once the answer starts."""

    async def masked(message: Message) -> None:
        if message["type"] == "http.response.start":
            scope["path"] = "/".join([*parts[:4], "<token>"])
            scope["raw_path"] = scope["path"].encode()
        await send(message)

    return masked


def _reply(answer: Answer) -> JsonAnswer:
    return JsonAnswer(answer.body, status_code=answer.status, headers=answer.headers)


def create_app(ctx: ConnectorContext, settings: WebhookSettings, *,
               eventbrite_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The receiver as an ASGI app.

    Args:
        ctx: an opened connector context (publisher, pseudonymiser, metrics, health); the
            caller closes it after the server stopped.
        settings: secrets and mapping options.
        eventbrite_transport: httpx transport for Eventbrite API fetches (tests).

    """
    receiver = Receiver(ctx, settings, EventbriteClient(settings, eventbrite_transport))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await receiver.aclose()

    app = FastPathApp(title="cultuurbus webhook receiver", version="0.1.0", lifespan=lifespan,
                  description="Ticketing vendors' webhooks -> Avro facts on Kafka. A 2xx answer "
                              "means Kafka acknowledged every fact of the delivery.")
    app.state.receiver = receiver
    app.fast_path = _Deliveries(receiver)

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException) -> JSONResponse:
        """Any other path or method: the documented ``Refused`` body, not FastAPI's."""
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
        error = ("no such endpoint: deliveries go to POST /webhooks/<vendor>/<account>"
                 if exc.status_code == 404 else str(exc.detail))
        return JSONResponse({"status": "rejected", "error": error, "field": None,
                             "request_id": request_id},
                            status_code=exc.status_code, headers=exc.headers)

    @app.post("/webhooks/eventix/{account}", responses=WEBHOOK_RESPONSES, tags=["webhooks"],
              summary="Eventix / OpenTicket delivery", openapi_extra=eventix_doc())
    async def eventix_hook(account: str, request: Request) -> JSONResponse:
        """Order paid/cancelled/refunded, ticket refunded/scanned -> one fact per ticket."""
        return _reply(await receiver.handle(eventix.NAME, account, request))

    @app.post("/webhooks/eventbrite/{account}", responses=WEBHOOK_RESPONSES, tags=["webhooks"],
              summary="Eventbrite delivery", openapi_extra=eventbrite_doc())
    async def eventbrite_hook(account: str, request: Request) -> JSONResponse:
        """Actions order.placed/updated/refunded, attendee.checked_in, event.updated; the
        receiver fetches ``api_url`` and maps the order, attendee or event."""
        return _reply(await receiver.handle(eventbrite.NAME, account, request))

    @app.post("/webhooks/stager/{account}", responses=WEBHOOK_RESPONSES, tags=["webhooks"],
              summary="Stager push feed", openapi_extra=stager_doc())
    async def stager_hook(account: str, request: Request) -> JSONResponse:
        """Per ticket type total/available/reserved -> a cumulative sales snapshot."""
        return _reply(await receiver.handle(stager.NAME, account, request))

    @app.post("/webhooks/eventix/{account}/{token}", responses=WEBHOOK_RESPONSES,
              tags=["webhooks"], summary="Eventix / OpenTicket delivery (URL token)",
              openapi_extra=eventix_doc(token=True))
    async def eventix_token_hook(account: str, token: str, request: Request) -> JSONResponse:
        """As ``eventix_hook``, authenticated by the token in the URL."""
        return _reply(await receiver.handle(eventix.NAME, account, request, token))

    @app.post("/webhooks/eventbrite/{account}/{token}", responses=WEBHOOK_RESPONSES,
              tags=["webhooks"], summary="Eventbrite delivery (URL token)",
              openapi_extra=eventbrite_doc(token=True))
    async def eventbrite_token_hook(account: str, token: str, request: Request) -> JSONResponse:
        """As ``eventbrite_hook``, authenticated by the token in the URL."""
        return _reply(await receiver.handle(eventbrite.NAME, account, request, token))

    @app.post("/webhooks/stager/{account}/{token}", responses=WEBHOOK_RESPONSES,
              tags=["webhooks"], summary="Stager push feed (URL token)",
              openapi_extra=stager_doc(token=True))
    async def stager_token_hook(account: str, token: str, request: Request) -> JSONResponse:
        """As ``stager_hook``, authenticated by the token in the URL."""
        return _reply(await receiver.handle(stager.NAME, account, request, token))

    @app.post("/webhooks/{vendor}/{account}", include_in_schema=False)
    async def unknown_hook(vendor: str, account: str, request: Request) -> JSONResponse:
        return _reply(await receiver.handle(vendor, account, request))

    @app.post("/webhooks/{vendor}/{account}/{token}", include_in_schema=False)
    async def unknown_token_hook(vendor: str, account: str, token: str,
                                 request: Request) -> JSONResponse:
        return _reply(await receiver.handle(vendor, account, request, token))

    app.include_router(ops_router(ctx.health, ctx.metrics_registry,
                                  ready_summary="Ready: Kafka reachable"))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app

"""The FastAPI app: one POST endpoint per vendor shape, health and metrics.

=================================  ===========================================
``POST /webhooks/eventix/{acct}``  Eventix / OpenTicket order, ticket, scan triggers
``POST /webhooks/eventbrite/{a}``  Eventbrite actions (the receiver fetches api_url)
``POST /webhooks/stager/{acct}``   Stager push feed (cumulative -> snapshots)
``GET /healthz``                   200 when Kafka is reachable, else 503
``GET /healthz/live``              200 while the process serves
``GET /metrics``                   Prometheus text format (the context's registry)
``GET /docs``, ``/openapi.json``   OpenAPI
=================================  ===========================================

Metrics and health are served by this app on the webhook port (the CLI does not start
the SDK's separate metrics server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel

from connectors.sdk.context import ConnectorContext
from connectors.ticketing.webhook import eventbrite, eventix, stager
from connectors.ticketing.webhook.fetch import EventbriteClient
from connectors.ticketing.webhook.receiver import Answer, Receiver
from connectors.ticketing.webhook.settings import WebhookSettings
from connectors.ticketing.webhook.signing import SIGNATURE_HEADER

__all__ = ["create_app"]

_SIG_DOC = "sha256=<hex HMAC-SHA256 of the raw body under the vendor/account secret>"


class Accepted(BaseModel):
    status: str
    what: str | None = None
    facts: int | None = None
    fact_ids: list[str] | None = None
    request_id: str


class Refused(BaseModel):
    status: str
    error: str
    field: str | None = None
    request_id: str
    dead_lettered: bool | None = None


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": Accepted, "description": "Published and acknowledged by Kafka (status "
          "accepted), or a replay already published (status duplicate)."},
    400: {"model": Refused, "description": "Body is not JSON; dead-lettered."},
    401: {"model": Refused, "description": "Missing or wrong X-Signature."},
    404: {"model": Refused, "description": "Unknown vendor, or no secret for the account."},
    413: {"model": Refused, "description": "Body over connector.max_body_bytes."},
    422: {"model": Refused, "description": "Missing/wrong field, negative quantity, unknown "
          "trigger or ticket type (strict); names the field; dead-lettered."},
    503: {"model": Refused, "description": "Kafka (or the Eventbrite API) unavailable; "
          "redeliver after Retry-After."},
}


def _reply(answer: Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


def _doc(model: type[BaseModel], headers: dict[str, str]) -> dict[str, Any]:
    """Body schema and headers for the docs only: the handler reads the raw bytes itself
    (the signature covers them), so FastAPI neither parses nor validates them."""
    params = [{"name": name, "in": "header", "required": False, "description": text,
               "schema": {"type": "string"}} for name, text in headers.items()]
    return {"parameters": params, "requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


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

    app = FastAPI(title="cultuurbus webhook receiver", version="0.1.0", lifespan=lifespan,
                  description="Ticketing vendors' webhooks -> Avro facts on Kafka. A 2xx answer "
                              "means Kafka acknowledged every fact of the delivery.")
    app.state.receiver = receiver

    @app.post("/webhooks/eventix/{account}", responses=_RESPONSES, tags=["webhooks"],
              summary="Eventix / OpenTicket delivery", openapi_extra=_doc(eventix.EventixDelivery, {
                  "OpenTicket-Trigger": "One of " + ", ".join(sorted(eventix.TRIGGERS))
                                        + " (X-Eventix-Trigger is read too).",
                  "OpenTicket-Identifier": "The webhook's nonce.",
                  "OpenTicket-Dedupe-Key": "Same on every retry of one delivery.",
                  SIGNATURE_HEADER: _SIG_DOC}))
    async def eventix_hook(account: str, request: Request) -> JSONResponse:
        """Order paid/cancelled/refunded, ticket refunded/scanned -> one fact per ticket."""
        return _reply(await receiver.handle(eventix.NAME, account, request))

    @app.post("/webhooks/eventbrite/{account}", responses=_RESPONSES, tags=["webhooks"],
              summary="Eventbrite delivery",
              openapi_extra=_doc(eventbrite.EventbriteDelivery, {SIGNATURE_HEADER: _SIG_DOC}))
    async def eventbrite_hook(account: str, request: Request) -> JSONResponse:
        """Actions order.placed/updated/refunded, attendee.checked_in, event.updated; the
        receiver fetches ``api_url`` and maps the order, attendee or event."""
        return _reply(await receiver.handle(eventbrite.NAME, account, request))

    @app.post("/webhooks/stager/{account}", responses=_RESPONSES, tags=["webhooks"],
              summary="Stager push feed",
              openapi_extra=_doc(stager.StagerDelivery, {SIGNATURE_HEADER: _SIG_DOC}))
    async def stager_hook(account: str, request: Request) -> JSONResponse:
        """Per ticket type total/available/reserved -> a cumulative sales snapshot."""
        return _reply(await receiver.handle(stager.NAME, account, request))

    @app.post("/webhooks/{vendor}/{account}", responses=_RESPONSES, tags=["webhooks"],
              include_in_schema=False)
    async def unknown_hook(vendor: str, account: str, request: Request) -> JSONResponse:
        return _reply(await receiver.handle(vendor, account, request))

    @app.get("/healthz", tags=["ops"], summary="Ready: Kafka reachable")
    def healthz() -> JSONResponse:
        report = ctx.health.report()
        return JSONResponse(report, status_code=200 if report["ready"] else 503)

    @app.get("/healthz/live", tags=["ops"], summary="Live: the process serves")
    def live() -> dict[str, bool]:
        return {"live": ctx.health.live}

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    def metrics() -> Response:
        return Response(generate_latest(ctx.metrics_registry), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in (eventix.EventixDelivery, eventbrite.EventbriteDelivery,
                          stager.StagerDelivery):
                js = model.model_json_schema(ref_template="#/components/schemas/{model}")
                comps.update(js.pop("$defs", {}))
                comps[model.__name__] = js
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app

"""The HTTP API of the gateway (FastAPI): JSON snapshots, SSE, the board, health, metrics.

``create_app(parts)`` builds the ASGI app around a view; it does not start anything
itself except through its lifespan (attach the broadcaster to the loop, start the
loader; on shutdown end the streams and close the loader).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bus.log import get_logger
from bus.metrics import Health
from bus.ops_http import ops_router
from sinks.gateway.auth import BearerAuth, TenantGate, caller_of, identity, unauthorized
from sinks.gateway.errors import BadParameterError
from sinks.gateway.loader import ViewLoader
from sinks.gateway.metrics import GatewayMetrics
from sinks.gateway.openapi import document
from sinks.gateway.shapes import (
    parse_days,
    parse_instant,
    parse_limit,
    parse_min,
    parse_statuses,
)
from sinks.gateway.sse import Broadcaster, StreamFilter, event_stream, parse_last_event_id, parse_topics
from sinks.gateway.view import AvailabilityQuery, LastMinuteQuery, View

__all__ = ["BOARD_DIR", "GatewayParts", "create_app"]

BOARD_DIR = Path(__file__).parent / "board"

log = get_logger(__name__)

PRODUCTION_HELP = (
    "Every performance of one production, asked by any of its ids: a UiT production uuid, a DIP "
    "production id (`NL-23-1234-5`), a UiT event uuid of the production, or a key as listed in "
    "`production_keys` (`dip-production|NL-23-1234-5`, `uit-production|<uuid>`, "
    "`uit-event|<uuid>`; `|` as `%7C`). Performances are related through shared keys, "
    "transitively (one with a UiT and a DIP production id joins both), never merged: each "
    "keeps its own seats. `production_ids` lists every key found.")
ID_HELP = ("Canonical performance id, URL-encoded: `|` as `%7C`, `#` as `%23`, `/` as `%2F` "
           "(e.g. `dip|NL-23-1234-5|3` -> `dip%7CNL-23-1234-5%7C3`).")


@dataclass
class GatewayParts:
    """What the app serves.

    Attributes:
        view: the local view.
        broadcaster: SSE fan-out.
        metrics: the gateway's metrics (their registry is served on ``/metrics``).
        heartbeat_s: seconds between SSE heartbeat comments.
        ready: set once the view has read every partition to its end.
        loader: started by the app's lifespan and closed at shutdown, if given.
        health: readiness checks served on ``/healthz``.
        clock: now, as an aware datetime (tests pin it).
        cors_origins: browser origins allowed to read the API cross-site (``*``: any).
        stream_max_s: an SSE stream ends after this many seconds (the client reconnects
            with its Last-Event-ID and misses nothing); None: streams last until closed.
        tenants: whose API tokens open ``/v1/me`` (started and closed with the loader);
            default: no tenant, every request public.

    """

    view: View
    broadcaster: Broadcaster
    metrics: GatewayMetrics
    heartbeat_s: float = 15.0
    ready: threading.Event = field(default_factory=threading.Event)
    loader: ViewLoader | None = None
    health: Health = field(default_factory=Health)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    cors_origins: tuple[str, ...] = ()
    stream_max_s: float | None = None
    tenants: TenantGate = field(default_factory=TenantGate)


class _RequestMetrics:
    """Pure ASGI middleware (does not buffer SSE): requests by route template and status."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                route = scope.get("route")
                self.metrics.request_seconds.labels(getattr(route, "path", "unmatched")).observe(
                    time.perf_counter() - t0)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            self.metrics.requests.labels(getattr(route, "path", "unmatched"), scope["method"],
                                         str(status["code"])).inc()


def _problem(status: int, error: str, message: str, parameter: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"error": error, "message": message}
    if parameter is not None:
        body["parameter"] = parameter
    return JSONResponse(body, status_code=status)


def _page(items: list[dict[str, Any]], total: int, seq: int) -> JSONResponse:
    return JSONResponse({"items": items, "count": len(items), "total": total,
                         "last_event_id": str(seq)}, headers={"X-Last-Event-ID": str(seq)})


_ERRORS = {401: "unauthorized", 404: "not_found", 503: "unavailable"}


def create_app(parts: GatewayParts) -> FastAPI:
    """The gateway's ASGI app (OpenAPI at ``/docs``, board at ``/board``)."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        parts.broadcaster.attach(asyncio.get_running_loop())
        if parts.loader is not None and not parts.loader.alive:
            parts.loader.start()
        parts.tenants.start()
        try:
            yield
        finally:
            parts.broadcaster.close()
            if parts.loader is not None:
                await asyncio.to_thread(parts.loader.close)
            await asyncio.to_thread(parts.tenants.close)

    app = FastAPI(title="cultuurbus availability gateway", version="1",
                  description="Live seat availability and last-minute offers of performances, "
                              "from the bus's compacted topics. JSON snapshots carry "
                              "`last_event_id`: open `/v1/stream?last_event_id=...` with it to get "
                              "every change after the snapshot. Every route is public; a tenant "
                              "may send `Authorization: Bearer <API token>` (see `/v1/me`), and a "
                              "token that is not valid (unknown, revoked, rotated) is answered "
                              "401 on every route but /healthz and /metrics.", lifespan=lifespan)
    app.add_middleware(BearerAuth, gate=parts.tenants)  # inside CORS: a 401 is readable cross-site
    if parts.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(parts.cors_origins),
                           allow_methods=["GET"],
                           allow_headers=["Last-Event-ID", "Accept", "Authorization"],
                           expose_headers=["X-Last-Event-ID", "WWW-Authenticate"])
    app.add_middleware(_RequestMetrics, metrics=parts.metrics)
    view = parts.view

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        # The last resort: a JSON problem, never Starlette's plain-text 500.
        log.error("request failed", exc_info=exc, extra={"path": request.url.path})
        return _problem(500, "internal", "the gateway failed to answer this request; it was logged, "
                        "retry later or report it")

    @app.exception_handler(BadParameterError)
    async def _bad_parameter(_: Request, exc: BadParameterError) -> JSONResponse:
        return _problem(400, "bad_parameter", str(exc), exc.parameter)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "header")]
        name = ".".join(loc) or "request"
        return _problem(400, "bad_parameter", f"{name}: {first.get('msg', 'invalid')}", name)

    def _require_ready() -> None:
        if not parts.ready.is_set():
            raise HTTPException(503, "the view is still loading from Kafka; retry shortly",
                                headers={"Retry-After": "1"})

    @app.exception_handler(StarletteHTTPException)  # also no route (404), wrong method (405)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        resp = _problem(exc.status_code, _ERRORS.get(exc.status_code, "error"), str(exc.detail))
        for k, v in (exc.headers or {}).items():
            resp.headers[k] = v
        return resp

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/board")

    app.include_router(ops_router(
        parts.health, parts.metrics.registry,
        ready_summary="Ready: 200 once the view is loaded, else 503",
        live_summary="Live: 200 while the process runs"))

    @app.get("/v1/performances/{performance_id:path}/availability", tags=["availability"],
             summary="Availability of one performance", description=ID_HELP)
    async def one(performance_id: str) -> JSONResponse:
        _require_ready()
        doc, seq = view.availability(performance_id)
        if doc is None:
            raise HTTPException(404, f"no availability known for performance {performance_id!r}; "
                                "use a canonical performance id, URL-encoded (| as %7C, # as %23)")
        return JSONResponse(doc, headers={"X-Last-Event-ID": str(seq)})

    @app.get("/v1/me", tags=["tenants"], summary="The tenant your API token names",
             description="Send `Authorization: Bearer <token>` with the API token `cultuurbus "
                         "tenant add` printed. Every other route is public: without the header "
                         "it answers as before; with a token that is not valid (unknown, revoked, "
                         "rotated) every route answers 401.")
    async def me(request: Request) -> JSONResponse:
        tenant = caller_of(request.scope)
        if tenant is None:
            return unauthorized("send `Authorization: Bearer <token>` with the API token that "
                                "`cultuurbus tenant add` printed")
        return JSONResponse(identity(tenant), headers={"Cache-Control": "no-store"})

    @app.get("/v1/availability", tags=["availability"],
             summary="Availability of many performances, sorted by start")
    async def many(
        status: Annotated[str | None, Query(description="AVAILABLE, LIMITED, SOLD_OUT, CANCELLED, "
                                                        "POSTPONED, UNKNOWN; comma list")] = None,
        region: Annotated[str | None, Query(description="Province, case-insensitive")] = None,
        city: str | None = None,
        genre: str | None = None,
        start_from: Annotated[str | None, Query(alias="from", description=(
            "Start at or after: YYYY-MM-DD (local midnight) or ISO date-time"))] = None,
        start_to: Annotated[str | None, Query(alias="to", description=(
            "Start before: ISO date-time, or YYYY-MM-DD (that whole day included)"))] = None,
        limit: Annotated[int | None, Query(description="0..1000, default 100")] = None,
    ) -> JSONResponse:
        q = AvailabilityQuery(parse_statuses(status), region or None, city or None, genre or None,
                              parse_instant(start_from, "from"),
                              parse_instant(start_to, "to", end_of_day=True), parse_limit(limit))
        if q.start_from and q.start_to and q.start_from >= q.start_to:
            raise BadParameterError("to", "must be later than from")
        _require_ready()
        items, total, seq = view.query_availability(q)
        return _page(items, total, seq)

    @app.get("/v1/productions/{production_id:path}/performances", tags=["availability"],
             summary="Availability of every performance of one production, sorted by start",
             description=PRODUCTION_HELP)
    async def production(
        production_id: str,
        limit: Annotated[int | None, Query(description="0..1000, default 100")] = None,
    ) -> JSONResponse:
        size = parse_limit(limit)
        _require_ready()
        found = view.production(production_id, size)
        if found is None:
            raise HTTPException(404, f"no performance names production {production_id!r}; use a UiT "
                                "production uuid, a DIP production id (NL-23-1234-5), a UiT event "
                                "uuid, or a key such as dip-production|NL-23-1234-5")
        return JSONResponse({"production_id": production_id, "production_ids": found.production_ids,
                             "items": found.items, "count": len(found.items), "total": found.total,
                             "last_event_id": str(found.seq)},
                            headers={"X-Last-Event-ID": str(found.seq)})

    @app.get("/v1/lastminute", tags=["lastminute"],
             summary="Last-minute offers that have not started, sorted by start")
    async def lastminute(
        region: str | None = None,
        city: str | None = None,
        genre: str | None = None,
        date: Annotated[str | None, Query(description=(
            "YYYY-MM-DD, today or tomorrow (Europe/Amsterdam); comma list"))] = None,
        min_remaining: Annotated[int | None, Query(description="At least this many seats left")] = None,
        limit: Annotated[int | None, Query(description="0..1000, default 100")] = None,
    ) -> JSONResponse:
        now = parts.clock()
        q = LastMinuteQuery(region or None, city or None, genre or None, parse_days(date, now),
                            parse_min(min_remaining, "min_remaining"), parse_limit(limit), now)
        _require_ready()
        items, total, seq = view.query_lastminute(q)
        return _page(items, total, seq)

    @app.get("/v1/stream", tags=["stream"], summary="Server-Sent Events of changes", description=(
        "Events `availability`, `availability-withdrawn`, `lastminute`, `lastminute-withdrawn` "
        "(JSON data, `id:` = the gateway's sequence), `hello` on a fresh stream and `reset` when "
        "the Last-Event-ID is no longer buffered (refetch the snapshot). Heartbeat comments keep "
        "proxies open. Resume with the `Last-Event-ID` header or `?last_event_id=`."))
    async def stream(
        request: Request,
        topics: Annotated[str | None, Query(description="availability, lastminute or both")] = None,
        performance_id: str | None = None,
        region: str | None = None,
        last_event_id: str | None = None,
        last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> EventSourceResponse:
        filt = StreamFilter(parse_topics(topics), performance_id or None, region or None)
        lid = parse_last_event_id(last_event_id_header, last_event_id)
        _require_ready()
        peer = f"{request.client.host}:{request.client.port}" if request.client else ""
        shutdown = anyio.Event()  # sse-starlette sets it when the server shuts down
        allowed = parts.tenants.watch(caller_of(request.scope))  # a tenant's ends when revoked
        return EventSourceResponse(
            event_stream(view, parts.broadcaster, filt, lid, peer, shutdown, parts.stream_max_s,
                         allowed=allowed, check_s=parts.heartbeat_s),
            ping=parts.heartbeat_s,
            ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
            send_timeout=max(10.0, 2 * parts.heartbeat_s), shutdown_event=shutdown,
            shutdown_grace_period=2.0)

    @app.get("/board", include_in_schema=False)
    async def board() -> FileResponse:
        return FileResponse(BOARD_DIR / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})

    app.mount("/board/static", StaticFiles(directory=BOARD_DIR), name="board-static")
    app.openapi = lambda: document(app)  # type: ignore[method-assign]
    return app

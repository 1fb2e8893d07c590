"""Who calls the gateway: tenants by their API token, everyone else as the public.

Availability and last-minute offers are public, so a request without an
``Authorization`` header is served as before, and costs one header lookup more. A
request *with* one must carry ``Bearer <token>``, the API token ``cultuurbus tenant add``
printed, of a tenant that is not revoked; any other header (unknown, revoked or rotated
token, another scheme) is answered 401 with the gateway's JSON problem and
``WWW-Authenticate: Bearer realm="cultuurbus"``, on every route but the ops endpoints.
A revoked app so notices at its next request instead of silently carrying on as the
public.

The tokens come from the tenant directory (``access.tenants``), which
:class:`TenantGate` follows with the bus's compacted reader
(``bus.directory.follow_directory``): a revocation or rotation reaches the gateway
within a poll. :class:`BearerAuth` is a pure ASGI middleware (it never buffers a
response, so SSE streams pass through untouched) and hands the tenant on in the scope
(:func:`caller_of`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bus.compacted import CompactedReader
from bus.directory import follow_directory
from bus.settings import KafkaSettings
from bus.tenants import Tenant, TenantDirectory

__all__ = [
    "CALLER",
    "MAY",
    "OPEN_PATHS",
    "WWW_AUTHENTICATE",
    "BearerAuth",
    "TenantGate",
    "caller_of",
    "identity",
    "unauthorized",
]

#: The scope key under which :class:`BearerAuth` leaves the authenticated tenant.
CALLER = "cultuurbus.tenant"
#: The ops endpoints: answered whatever the Authorization header says (probes, Prometheus).
OPEN_PATHS = frozenset({"/healthz", "/healthz/live", "/metrics"})
WWW_AUTHENTICATE = 'Bearer realm="cultuurbus"'

#: What each kind of tenant may use, in words (the data-product catalog, ``cultuurbus
#: catalog``, has the grants themselves; the gateway does not read it).
MAY: dict[str, tuple[str, ...]] = {
    "app": ("availability and last-minute offers: this gateway's /v1 routes and stream, and "
            "the Kafka topics participation.availability and participation.lastminute",),
    "vendor": ("write ticket events, sales snapshots and performances to its own ingest topics "
               "(ingest.<tenant>.*), for the venues and productions it is registered for",
               "the public routes of this gateway"),
    "venue": ("availability and last-minute offers (gateway and Kafka)",
              "its own performances' sales, attendance and audience figures (`cultuurbus report "
              "sales`, `report audience`, its own rows of the ClickHouse tables)",
              "the sector benchmark over groups of at least five venues (`report benchmark`)"),
    "producer": ("availability and last-minute offers (gateway and Kafka)",
                 "its own productions' sales, attendance and audience figures at every venue "
                 "(`cultuurbus report sales`, `report audience`, its own rows of the tables)",
                 "the sector benchmark over groups of at least five venues (`report benchmark`)"),
    "analyst": ("availability, last-minute offers, performances and the identity crosswalks "
                "(gateway, Kafka, public ClickHouse tables)",
                "sector-aggregated figures only: `cultuurbus report benchmark` and `report "
                "audience`, every group above the thresholds"),
}

_NOT_BEARER = ("the Authorization header is not `Bearer <token>`: send the API token that "
               "`cultuurbus tenant add` printed, or no Authorization header for public data")
_UNKNOWN = ("this API token is unknown, revoked or replaced by `cultuurbus tenant rotate`: ask "
            "the operator for the current one, or send no Authorization header for public data")


def unauthorized(message: str) -> JSONResponse:
    """The gateway's 401: a JSON problem and the challenge that names the scheme."""
    return JSONResponse({"error": "unauthorized", "message": message}, status_code=401,
                        headers={"WWW-Authenticate": WWW_AUTHENTICATE, "Cache-Control": "no-store"})


def caller_of(scope: Scope) -> Tenant | None:
    """The tenant whose token this request carried (None: a public request)."""
    return scope.get(CALLER)


def identity(tenant: Tenant) -> dict[str, Any]:
    """``GET /v1/me``: who the token says the caller is, and what that kind may use."""
    return {"tenant": tenant.name, "kind": tenant.kind, "venues": list(tenant.venues),
            "productions": list(tenant.productions), "may": list(MAY.get(tenant.kind, ()))}


class TenantGate:
    """The tenant directory as the gateway knows it: followed from Kafka, or given.

    Lifecycle: ``start()`` starts following ``access.tenants`` (the compacted reader's
    thread; it retries with backoff while Kafka or the topic is away); ``close()`` stops
    and joins it. Without ``kafka`` the directory is the one given and never changes (the
    app's tests, the catalog's route listing).

    Args:
        directory: the tenants to start with (default: none).
        kafka: how to reach the broker (as the gateway's principal, which may read the
            directory and use ``cultuurbus-tenants-*`` groups); None: do not follow.
        topic_prefix: the bus's topic prefix.

    """

    def __init__(self, directory: TenantDirectory | None = None, *,
                 kafka: KafkaSettings | None = None, topic_prefix: str = "") -> None:
        self.directory = directory if directory is not None else TenantDirectory()
        self.lock = threading.Lock()
        self._kafka = kafka
        self._prefix = topic_prefix
        self.reader: CompactedReader | None = None

    def start(self) -> TenantGate:
        if self._kafka is not None and (self.reader is None or not self.reader.alive):
            self.reader = follow_directory(self._kafka, self._prefix, self.directory,
                                           source="tenants", lock=self.lock)
        return self

    def close(self, timeout: float = 10.0) -> None:
        if self.reader is not None:
            self.reader.close(timeout)

    @property
    def ready(self) -> bool:
        """The directory was read to its end (always, when it is not followed)."""
        return self._kafka is None or (self.reader is not None and self.reader.ready.is_set())

    @property
    def healthy(self) -> bool:
        """The reader runs and reads (red while it retries)."""
        return self._kafka is None or (self.reader is not None and self.reader.healthy)

    def by_token(self, token: str) -> Tenant | None:
        """The active tenant whose API token this is, else None."""
        with self.lock:
            return self.directory.by_token(token)

    def still_valid(self, tenant: Tenant) -> bool:
        """Whether ``tenant``'s token still opens the gateway (not revoked, not rotated)."""
        with self.lock:
            now = self.directory.active(tenant.name)
        return now is not None and now.token_sha256 == tenant.token_sha256

    def watch(self, tenant: Tenant | None) -> Callable[[], bool] | None:
        """For a stream: a check that turns false once ``tenant`` lost its access; None for
        a public stream (nothing to check)."""
        if tenant is None:
            return None
        return lambda: self.still_valid(tenant)


class BearerAuth:
    """Pure ASGI middleware: authenticates a request that carries an Authorization header.

    Without one the request goes on untouched (one scan of the header list). With one, on
    any path but :data:`OPEN_PATHS`: 401 unless it is ``Bearer <token>`` of an active
    tenant, 503 while the directory is still loading; else the tenant is put in the scope
    under :data:`CALLER`.
    """

    def __init__(self, app: ASGIApp, gate: TenantGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"authorization":
                    if scope["path"] not in OPEN_PATHS:
                        tenant = self._authenticate(value)
                        if isinstance(tenant, JSONResponse):
                            await tenant(scope, receive, send)
                            return
                        scope[CALLER] = tenant
                    break
        await self.app(scope, receive, send)

    def _authenticate(self, header: bytes) -> Tenant | JSONResponse:
        scheme, _, token = header.decode("latin-1").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            return unauthorized(_NOT_BEARER)
        if not self.gate.ready:
            return JSONResponse({"error": "unavailable", "message": (
                "the tenant directory is still loading from Kafka; retry shortly")},
                status_code=503, headers={"Retry-After": "1"})
        tenant = self.gate.by_token(token)
        return tenant if tenant is not None else unauthorized(_UNKNOWN)

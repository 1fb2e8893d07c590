"""The webhook receiver the push drivers deliver to, and how they POST.

In process by default: the real receiver app (``create_app``) served by its
``bus.http.HttpServer`` on a free loopback port, each vendor authenticated as it really
sends (``Credentials``): Eventix by its OpenTicket nonce, Stager and Eventbrite by a
token in the URL, all derived from ``env.webhook_secret``; strict ticket types (the
simulator's one unusual name mapped to OTHER, so a shape drift is refused rather than
silently counted as OTHER), and the fake Eventbrite API it fetches ``api_url`` from.
With ``env.webhook_url`` the deliveries go to an external receiver instead, signed as a
relay signs them: it must know ``env.webhook_secret`` for eventix, eventbrite and stager
(mode hmac), a token for the fake Eventbrite API and allow its host.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from bus.http import HttpServer
from connectors.fakes.webhooks import EVENTIX_NONCE, FakeEventbriteApi, SignedRequest
from connectors.sdk.context import ConnectorContext
from connectors.simulator.drivers.base import Driver, Env, SimulationError, Unit, push_all
from connectors.simulator.drivers.render import TICKET_NAMES
from connectors.simulator.model import SimPerformance
from connectors.ticketing.webhook.app import create_app
from connectors.ticketing.webhook.settings import WebhookSettings
from schemas.models import TicketType

__all__ = ["Credentials", "RequestDriver", "WebhookHost", "vendor_credentials", "webhook_host"]

_ATTEMPTS = 8


@dataclass(frozen=True)
class Credentials:
    """What a driver's deliveries carry: a relay's HMAC ``secret``, or the vendor's own
    ``url_token`` / Eventix ``nonce`` (no signature)."""

    secret: str | None = None
    url_token: str | None = None
    nonce: str = EVENTIX_NONCE


def _derived(secret: str, what: str) -> str:
    return hashlib.sha256(f"{what}/{secret}".encode()).hexdigest()[:32]


def vendor_credentials(secret: str) -> dict[str, dict[str, str]]:
    """The receiver settings (``webhook.url_tokens``, ``webhook.openticket_nonces``) that
    take this run's deliveries as each vendor sends them, derived from ``secret``: Eventix
    with OpenTicket's nonce, Eventbrite and Stager with a token in the delivery URL."""
    token = _derived(secret, "url-token")
    return {"url_tokens": {"eventbrite": token, "stager": token},
            "openticket_nonces": {"eventix": _derived(secret, "nonce")}}


def parse_webhook_urls(spec: str | None) -> dict[str, str]:
    """``--webhook-url`` values: ``URL`` (every vendor) and ``VENDOR=URL`` (one vendor's
    deliveries, e.g. to the receiver that vendor runs as its own tenant), comma-separated;
    vendor -> URL with ``*`` for the rest."""
    routes: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in (spec or "").split(","))):
        vendor, eq, url = part.partition("=")
        if eq and not vendor.startswith("http"):
            routes[vendor.strip().lower()] = url.strip().rstrip("/")
        else:
            routes["*"] = part.rstrip("/")
    return routes


class WebhookHost:
    """Lifecycle: ``start()`` once (first push driver), ``post`` from any thread,
    ``close()`` at the end of the run (stops the server, flushes the producer)."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.eventbrite = FakeEventbriteApi()
        self._ctx: ConnectorContext | None = None
        self._server: HttpServer | None = None
        self._client: httpx.Client | None = None
        self._by_vendor: dict[str, httpx.Client] = {}
        self.base_url = ""

    def start(self) -> WebhookHost:
        if self._client is not None:
            return self
        self.eventbrite.start()
        routes = parse_webhook_urls(self.env.webhook_url)
        if routes:
            self.base_url = routes.get("*", next(iter(routes.values())))
        else:
            settings = WebhookSettings(
                **vendor_credentials(self.env.webhook_secret),  # type: ignore[arg-type]
                eventbrite_tokens={"*": SecretStr(self.eventbrite.token)},
                eventbrite_api_hosts=(self.eventbrite.host,),
                ticket_types={TICKET_NAMES["OTHER"]: TicketType.OTHER}, strict_ticket_types=True)
            self._ctx = self.env.context("webhook")
            self._server = HttpServer(create_app(self._ctx, settings), "127.0.0.1", 0).start()
            self.base_url = self._server.url
        n = max(4, self.env.workers * 2)
        self._client = httpx.Client(base_url=self.base_url, timeout=60.0,
                                    limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))
        for vendor, url in routes.items():
            if vendor != "*" and url != self.base_url:
                self._by_vendor[vendor] = httpx.Client(
                    base_url=url, timeout=60.0,
                    limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))
        return self

    def credentials(self, vendor: str) -> Credentials:
        """How ``vendor``'s deliveries authenticate at this run's receiver."""
        secret = self.env.webhook_secret
        if self.env.webhook_url and self.env.webhook_auth == "hmac":  # a signing relay
            return Credentials(secret=secret)
        if vendor == "eventix":
            return Credentials(nonce=_derived(secret, "nonce"))
        return Credentials(url_token=_derived(secret, "url-token"))

    def post(self, req: SignedRequest) -> int:
        """POST one delivery; the facts Kafka acknowledged (0 for a duplicate).

        5xx and 429 (OpenTicket's "send it again") are retried (bounded, honouring
        Retry-After); other answers raise.

        Raises:
            SimulationError: refused (4xx) or never accepted.

        """
        assert self._client is not None, "start() first"
        problem = ""
        for _ in range(_ATTEMPTS):
            try:
                client = self._by_vendor.get(req.path.split("/")[2], self._client)
                resp = client.post(req.path, content=req.body, headers=req.headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {exc}"
                time.sleep(0.5)
                continue
            if resp.status_code < 300:
                body: dict[str, Any] = resp.json()
                return int(body.get("facts") or 0)
            if resp.status_code >= 500 or resp.status_code == 429:
                problem = f"HTTP {resp.status_code}: {resp.text[:200]}"
                time.sleep(min(float(resp.headers.get("Retry-After", "1")), 5.0))
                continue
            raise SimulationError(f"POST {_shown(req.path)} refused with HTTP {resp.status_code}: "
                                  f"{resp.text[:300]}")
        raise SimulationError(f"POST {_shown(req.path)} not accepted after {_ATTEMPTS} attempts "
                              f"({problem})")

    def close(self) -> None:
        for client in self._by_vendor.values():
            client.close()
        if self._client is not None:
            self._client.close()
        if self._server is not None:
            self._server.stop()
        if self._ctx is not None:
            self._ctx.close()
        self.eventbrite.close()


def _shown(path: str) -> str:
    """``path`` without a URL token (its fourth segment), for messages."""
    parts = path.split("/")
    return "/".join(parts[:4] + ["<token>"]) if len(parts) > 4 else path


def webhook_host(env: Env) -> WebhookHost:
    """The run's shared webhook host (started on first use)."""
    host = env.shared_host("webhook", lambda: WebhookHost(env).start())
    assert isinstance(host, WebhookHost)
    return host


class RequestDriver(Driver):
    """A push vendor whose every unit is one ready request (``_render``), posted to the
    run's webhook host."""

    connector = "webhook"

    def _render(self, perf: SimPerformance, payload: Any, creds: Credentials) -> SignedRequest:
        raise NotImplementedError

    def _request(self, perf: SimPerformance, payload: Any, secret: str | None,
                 creds: Credentials | None = None) -> SignedRequest:
        """The delivery of ``payload``: signed with a relay ``secret``, else as ``creds`` say."""
        return self._render(perf, payload, creds or Credentials(secret=secret))

    def deliver(self, units: Sequence[Unit]) -> None:
        host = webhook_host(self.env)
        season, creds = self.env.season, host.credentials(self.kind)

        def send(u: Unit) -> int:
            return host.post(self._request(season.performance(u.perf), u.payload, None, creds))

        push_all(self.env, units, send, self.stats)

"""The webhook receiver's app over an in-process ASGI client, with a recording publisher
(what was acknowledged, what was dead-lettered) and the fake Eventbrite API it fetches."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bus.settings import Settings
from connectors.fakes.webhooks import FakeEventbriteApi, SignedRequest
from connectors.ticketing.webhook import WebhookSettings, create_app
from tests.support.recording import recording_context

__all__ = ["SECRET", "WebhookHarness"]

SECRET = "acme-secret-0123456789"


class WebhookHarness:
    """One receiver app with a secret for every vendor of account ``acme``."""

    def __init__(self, api: FakeEventbriteApi, *, strict: bool = False,
                 max_body: int = 1_048_576, fetch_attempts: int = 2) -> None:
        settings = Settings(connector={"max_body_bytes": max_body})
        self.ctx, self.publisher = recording_context(settings)
        self.settings = WebhookSettings(
            secrets={"eventix/acme": SECRET, "stager/acme": SECRET, "eventbrite/acme": SECRET},
            eventbrite_tokens={"acme": api.token}, eventbrite_api_hosts=(api.host,),
            strict_ticket_types=strict, fetch_attempts=fetch_attempts)
        self.app = create_app(self.ctx, self.settings)

    def post(self, req: SignedRequest, headers: dict[str, str] | None = None,
             **kw: Any) -> httpx.Response:
        """POST a signed delivery (with other ``headers`` instead of its own, if given)."""
        return self.request("POST", req.path, content=req.body,
                            headers=headers if headers is not None else req.headers, **kw)

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as c:
                return await c.request(method, path, **kw)

        return asyncio.run(go())

"""Fetching the resource an Eventbrite delivery points to (its ``api_url``).

httpx with a per-attempt timeout and a bounded number of attempts (exponential backoff,
``Retry-After`` honoured up to 2 s). Transport errors, 429 and 5xx are retried; any
failure that remains becomes ``FetchFailed`` (the receiver answers 503 so Eventbrite
redelivers). Only hosts on the allow-list are fetched.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bus.log import get_logger
from connectors.sdk.errors import MappingError
from connectors.sdk.jsonbody import BadJson, load_json
from connectors.ticketing.webhook.errors import FetchFailed
from connectors.ticketing.webhook.settings import WebhookSettings

__all__ = ["EventbriteClient"]

log = get_logger(__name__)
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class EventbriteClient:
    """Lifecycle: built with the app; ``get`` any number of times; ``aclose()`` at shutdown.

    Args:
        settings: tokens, allowed hosts, timeout and attempts.
        transport: an httpx transport (tests); the default opens real connections.

    """

    def __init__(self, settings: WebhookSettings,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self._client = httpx.AsyncClient(timeout=settings.fetch_timeout_s, transport=transport,
                                         follow_redirects=False,
                                         headers={"User-Agent": "cultuurbus-webhook/0.1"})

    def check_url(self, api_url: str) -> httpx.URL:
        """The URL if it may be fetched, else a MappingError naming ``api_url``."""
        try:
            url = httpx.URL(api_url)
        except (httpx.InvalidURL, TypeError):
            raise MappingError("wrong value api_url: not a URL", field="api_url") from None
        hostport = url.host if url.port is None else f"{url.host}:{url.port}"
        allowed = self.settings.eventbrite_api_hosts
        if url.host not in allowed and hostport not in allowed:
            raise MappingError(f"api_url host {url.host!r} is not an allowed Eventbrite API host "
                               f"({', '.join(allowed)}); set CULTUURBUS_WEBHOOK__EVENTBRITE_API_HOSTS",
                               field="api_url")
        if url.scheme != "https" and not (url.scheme == "http" and url.host in _LOOPBACK):
            raise MappingError("api_url must be https", field="api_url")
        return url

    async def get(self, url: httpx.URL, account: str, expand: str | None = None) -> dict[str, Any]:
        """The JSON object at ``url``.

        Raises:
            FetchFailed: no usable answer after the configured attempts.

        """
        if expand:
            url = url.copy_merge_params({"expand": expand})
        token = self.settings.eventbrite_token(account)
        headers = {"Authorization": f"Bearer {token.get_secret_value()}"} if token else {}
        attempts = self.settings.fetch_attempts
        problem = "no attempt made"
        for attempt in range(attempts):
            delay = 0.2 * 2 ** attempt
            try:
                resp = await self._client.get(url, headers=headers)
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}"
            else:
                if resp.status_code == 200:
                    try:
                        data = load_json(resp.content)
                    except BadJson as exc:
                        problem = f"answer is not JSON: {exc}"
                    else:
                        if isinstance(data, dict):
                            return data
                        problem = "answer is not a JSON object"
                elif resp.status_code == 429 or resp.status_code >= 500:
                    problem = f"HTTP {resp.status_code}"
                    delay = max(delay, _retry_after(resp))
                else:
                    raise FetchFailed(f"Eventbrite API answered HTTP {resp.status_code} for "
                                      f"{url.copy_with(query=None)}; check the token of account "
                                      f"{account!r}", retry_after=60.0)
            if attempt + 1 < attempts:
                await asyncio.sleep(delay)
        log.warning("eventbrite fetch failed", extra={"url": str(url.copy_with(query=None)),
                                                      "attempts": attempts, "problem": problem})
        raise FetchFailed(f"Eventbrite API at {url.host} gave no answer after {attempts} "
                          f"attempts ({problem}); redeliver later", retry_after=10.0)

    async def aclose(self) -> None:
        await self._client.aclose()


def _retry_after(resp: httpx.Response) -> float:
    try:
        return min(float(resp.headers.get("Retry-After", "0")), 2.0)
    except ValueError:
        return 0.0

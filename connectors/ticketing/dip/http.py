"""GET JSON from a DIP-style API, with failures the source runner understands."""

from __future__ import annotations

from typing import Any

import httpx

from bus.errors import ConfigError
from connectors.sdk.errors import Retry, SourceUnavailable

__all__ = ["client_for", "get_json"]


def client_for(api_key: str | None, client: httpx.Client | None = None) -> httpx.Client:
    """``client`` if given (tests), else a client that asks for JSON and sends the key as
    ``Authorization: Bearer``."""
    if client is not None:
        return client
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    return httpx.Client(timeout=30.0, headers=headers)


def get_json(client: httpx.Client, url: str, params: dict[str, Any] | None = None,
             what: str = "DIP") -> Any:
    """The decoded JSON of ``GET url``.

    Raises:
        SourceUnavailable: no answer, a 5xx or a body that is not JSON (back off, retry).
        Retry: 429, after the server's ``Retry-After``.
        ConfigError: 401/403 (credentials) — no retry fixes that.

    """
    try:
        resp = client.get(url, params=params)
    except httpx.HTTPError as exc:
        raise SourceUnavailable(f"cannot reach {what} at {url}: {type(exc).__name__} {exc}; "
                                "retrying", retry_after=2.0) from exc
    if resp.status_code == 429:
        try:
            after = float(resp.headers.get("Retry-After", 5))
        except ValueError:
            after = 5.0
        raise Retry(f"{what} rate limit on {url}", retry_after=after)
    if resp.status_code in (401, 403):
        raise ConfigError(f"{what} refused the credentials ({resp.status_code}) for {url}: "
                          "check --api-key (CULTUURBUS_DIP_API_KEY)")
    if resp.status_code >= 400:
        raise SourceUnavailable(f"{what} answered {resp.status_code} for {url}; retrying",
                                retry_after=2.0)
    try:
        return resp.json()
    except ValueError as exc:
        raise SourceUnavailable(f"{what} answered {url} with a body that is not JSON; retrying",
                                retry_after=2.0) from exc

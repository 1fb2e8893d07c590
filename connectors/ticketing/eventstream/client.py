"""Reading one page of Ticketmatic's eventstream over HTTP.

``GET {base}/{account}/eventstream?id=<cursor>`` answers ``{moreresults, nextid,
results}``. Authentication is Ticketmatic's basic auth (``accesskey:secretkey``).

Failures become what the runner knows how to handle: a vendor that does not answer,
answers 5xx or answers something that is not an EventstreamResult (not UTF-8 JSON,
nested deeper than ``connectors.sdk.jsonbody.MAX_DEPTH``, NaN, endless numbers) raises
``SourceUnavailable`` (the runner backs off, the cursor stays where it is, the same
page is asked again); 429 raises ``Retry`` with the vendor's ``Retry-After``; 401/403
and 404 raise ``ConfigError`` because no retry fixes a wrong key or account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from bus.errors import ConfigError
from connectors.sdk.errors import Retry, SourceUnavailable
from connectors.sdk.jsonbody import BadJson, load_json

__all__ = ["DEFAULT_BASE_URL", "EventstreamClient", "MalformedPage", "Page"]

DEFAULT_BASE_URL = "https://apps.ticketmatic.com/api/1"


class MalformedPage(SourceUnavailable):
    """The vendor answered 200 with something that is not an EventstreamResult."""


@dataclass(frozen=True)
class Page:
    """One EventstreamResult: its items (as sent), the next cursor, whether more wait."""

    results: list[Any]
    nextid: str
    moreresults: bool


def _retry_after(resp: httpx.Response, default: float) -> float:
    try:
        return max(float(resp.headers.get("Retry-After", default)), 0.0)
    except ValueError:
        return default


def parse_page(body: Any) -> Page:
    """Check the shape of an EventstreamResult; ``MalformedPage`` says what is wrong."""
    if not isinstance(body, dict):
        raise MalformedPage(f"eventstream answered a JSON {type(body).__name__}, not an object "
                            "with moreresults/nextid/results; retrying")
    nextid = body.get("nextid")
    if isinstance(nextid, int) and not isinstance(nextid, bool):
        nextid = str(nextid)
    if not isinstance(nextid, str) or not nextid:
        raise MalformedPage("eventstream page has no nextid (string); retrying the same cursor")
    results = body.get("results")
    if results is None:
        results = []
    if not isinstance(results, list):
        raise MalformedPage(f"eventstream page has results of type {type(results).__name__}, "
                            "not a list; retrying the same cursor")
    more = body.get("moreresults", False)
    if not isinstance(more, bool):
        raise MalformedPage("eventstream page has a moreresults that is not a boolean; retrying")
    return Page(results, nextid, more)


class EventstreamClient:
    """Lifecycle: built once per connector; ``page()`` per poll; ``close()`` at the end.

    Args:
        base_url: the API root, e.g. ``https://apps.ticketmatic.com/api/1``.
        account: the Ticketmatic account name (path segment).
        access_key: API access key (basic auth user), optional for fakes.
        secret_key: API secret key (basic auth password).
        timeout_s: per request; a timeout counts as the vendor being unavailable.
        client: an httpx client to use instead (tests).

    """

    def __init__(self, base_url: str, account: str, *, access_key: str | None = None,
                 secret_key: str | None = None, timeout_s: float = 30.0,
                 client: httpx.Client | None = None) -> None:
        self.url = f"{base_url.rstrip('/')}/{account}/eventstream"
        auth = httpx.BasicAuth(access_key, secret_key) if access_key and secret_key else None
        self._client = client or httpx.Client(timeout=timeout_s, auth=auth,
                                              headers={"Accept": "application/json"})

    def page(self, cursor: str) -> Page:
        """The page starting at ``cursor`` (inclusive minimum id)."""
        try:
            resp = self._client.get(self.url, params={"id": cursor})
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(f"Ticketmatic did not answer {self.url}?id={cursor} in time "
                                    f"({type(exc).__name__}); retrying", retry_after=2.0) from exc
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"cannot reach Ticketmatic at {self.url}: {exc}; retrying",
                                    retry_after=2.0) from exc
        status = resp.status_code
        if status == 429:
            raise Retry(f"Ticketmatic rate limit on {self.url}; waiting as asked",
                        retry_after=_retry_after(resp, 5.0))
        if status in (401, 403):
            raise ConfigError(f"Ticketmatic refused the credentials ({status}) for {self.url}: "
                              "check --access-key/--secret-key (CULTUURBUS_TICKETMATIC_*)")
        if status == 404:
            raise ConfigError(f"Ticketmatic answered 404 for {self.url}: check --base-url and "
                              "--account")
        if status >= 400:
            raise SourceUnavailable(f"Ticketmatic answered {status} for {self.url}?id={cursor}; "
                                    "retrying the same cursor", retry_after=_retry_after(resp, 2.0))
        try:
            body = load_json(resp.content)
        except BadJson as exc:
            raise MalformedPage(f"Ticketmatic answered {self.url}?id={cursor} with a body that is "
                                f"not JSON ({exc}; starts {resp.content[:80]!r}); retrying the same "
                                "cursor") from exc
        return parse_page(body)

    def close(self) -> None:
        self._client.close()

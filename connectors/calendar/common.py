"""What the calendar connectors share: HTTP fetching with backoff, content hashes, the
skip counter, the document source and the run loop of the CLIs. The values they read
alike (date-times, tagged identifiers, countries) are in ``connectors.calendar.values``
and re-exported here.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
import httpx
from prometheus_client import CollectorRegistry, Counter

from bus.log import get_logger
from bus.settings import Settings
from connectors.calendar.values import (
    DEFAULT_TIMEZONE,
    contract_error,
    country_code,
    json_bytes,
    parse_datetime,
    parse_tagged,
)
from connectors.sdk.cli import name_option
from connectors.sdk.context import ConnectorContext
from connectors.sdk.errors import Retry
from connectors.sdk.records import DeadLetter, PollResult, SourceRecord
from connectors.sdk.runner import PollingSource, SourceRunner

__all__ = [
    "DEFAULT_TIMEZONE",
    "Backoff",
    "CalendarMetrics",
    "DocumentSource",
    "Entry",
    "HttpGetter",
    "clip",
    "content_hash",
    "contract_error",
    "country_code",
    "host_of",
    "json_bytes",
    "parse_datetime",
    "parse_tagged",
    "poll_options",
    "run_sources",
]

log = get_logger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

#: Dead letters carry at most this many bytes of a source document (Kafka's default
#: message limit is 1 MiB; a too-large dead letter would block the source forever).
MAX_DEAD_LETTER_BYTES = 512 * 1024

#: A document with more entries keeps hashed references in its position (about 40
#: bytes each instead of ~90), so the position stays under Kafka's 1 MiB message limit.
COMPACT_POSITION_ABOVE = 4000


class CalendarMetrics:
    """Metrics the SDK does not declare: items read but deliberately not published."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.skipped = Counter(
            "cultuurbus_connector_records_skipped",
            "Source items read but not published as performances, by reason (e.g. a "
            "periodic UiT event has no discrete performances).",
            ["connector", "reason"], registry=registry)


# -- documents' bytes ------------------------------------------------------------------
def host_of(url: str) -> str:
    """The host of a URL (``https://www.x.nl/a`` -> ``www.x.nl``), or the URL itself."""
    return urlsplit(url).hostname or url


def content_hash(obj: Any) -> str:
    """A stable hex digest of JSON-able content (key order does not matter)."""
    data = obj if isinstance(obj, bytes) else json.dumps(
        obj, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(data).hexdigest()[:32]


def clip(raw: bytes) -> bytes:
    """At most ``MAX_DEAD_LETTER_BYTES`` of ``raw``, saying so when it was cut."""
    if len(raw) <= MAX_DEAD_LETTER_BYTES:
        return raw
    return raw[:MAX_DEAD_LETTER_BYTES] + f"\n[... {len(raw)} bytes, clipped]".encode()


# -- HTTP -----------------------------------------------------------------------------
@dataclass
class Backoff:
    """Exponential backoff with jitter; ``reset()`` after a success."""

    base_s: float = 1.0
    max_s: float = 60.0
    failures: int = 0

    def next(self, hint: float | None = None) -> float:
        self.failures += 1
        delay = min(self.max_s, self.base_s * 2 ** min(self.failures - 1, 16))
        delay *= 0.75 + random.random() / 4
        if hint is not None:
            delay = max(delay, min(hint, self.max_s))
        return delay

    def reset(self) -> None:
        self.failures = 0


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class HttpGetter:
    """GETs a source over HTTP; every failure becomes ``Retry`` with backoff, so a
    page is never skipped.

    Args:
        what: names the source in error messages (``"UiTdatabank search"``).
        client: an httpx client (default headers, timeouts).
        backoff: the delay policy between failures.

    """

    what: str
    client: httpx.Client
    backoff: Backoff = field(default_factory=Backoff)

    def get(self, url: str, *, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> httpx.Response:
        """The response (2xx or 304).

        Raises:
            Retry: the source did not answer, or answered 3xx/4xx/5xx.

        """
        try:
            resp = self.client.get(url, params=params, headers=headers)
        except httpx.HTTPError as exc:
            delay = self.backoff.next()
            log.warning("source unreachable", extra={"source": self.what, "url": url,
                                                     "error": str(exc)[:300]})
            raise Retry(f"{self.what} at {url} unreachable ({type(exc).__name__}: {exc}); "
                        f"retrying in {delay:.1f}s", retry_after=delay) from exc
        if resp.status_code < 300 or resp.status_code == 304:
            self.backoff.reset()
            return resp
        delay = self.backoff.next(_retry_after(resp))
        hint = (" check the API key / client id" if resp.status_code in (401, 403)
                else " check the URL" if resp.status_code == 404 else "")
        log.warning("source answered an error", extra={
            "source": self.what, "url": str(resp.url), "status": resp.status_code,
            "body": resp.text[:300]})
        raise Retry(f"{self.what} answered HTTP {resp.status_code} for {resp.url};{hint} "
                    f"retrying in {delay:.1f}s", retry_after=delay)


# -- documents ------------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One item of a document: a stable reference (performance key, or ``dlq:<hash>``),
    the version of its content, and what to publish when that version is new."""

    ref: str
    version: str
    item: SourceRecord | DeadLetter


class DocumentSource(ABC):
    """A ``PollingSource`` over one document (a web page, an iCal feed) that is
    fetched whole and mapped into entries.

    Position: ``{"etag", "last_modified", "document": <hash of the bytes>, "items":
    {ref: version hash}}`` (refs hashed too above ``COMPACT_POSITION_ABOVE`` entries).
    A 304 or an unchanged document publishes nothing; otherwise only entries whose
    version is new are published, so an unchanged event never goes out twice and a
    changed one always does.
    """

    def __init__(self, url: str, *, what: str, partition_prefix: str,
                 client: httpx.Client | None = None, backoff: Backoff | None = None) -> None:
        self.url = url
        self.source_partition = f"{partition_prefix}:{url}"
        self._client = client or httpx.Client(timeout=30.0, follow_redirects=True)
        self._http = HttpGetter(what, self._client, backoff or Backoff())

    def close(self) -> None:
        self._client.close()

    @abstractmethod
    def entries(self, body: bytes, content_type: str, modified: datetime) -> list[Entry]:
        """Map the fetched document; ``modified`` is its Last-Modified or the fetch time."""

    def poll(self, position: dict[str, Any] | None) -> PollResult:
        """Fetch (conditionally) and publish the entries that changed."""
        position = position or {}
        headers = {}
        if position.get("etag"):
            headers["If-None-Match"] = position["etag"]
        if position.get("last_modified"):
            headers["If-Modified-Since"] = position["last_modified"]
        resp = self._http.get(self.url, headers=headers)
        if resp.status_code == 304:
            return PollResult([], position)
        digest = content_hash(resp.content)
        new = {"etag": resp.headers.get("etag"), "last_modified": resp.headers.get("last-modified"),
               "document": digest, "items": position.get("items", {})}
        if position.get("document") == digest:
            return PollResult([], new)
        try:
            modified = parsedate_to_datetime(new["last_modified"]) if new["last_modified"] else None
            fetched = modified.astimezone(UTC) if modified and modified.tzinfo else datetime.now(UTC)
        except (TypeError, ValueError, OverflowError):  # a date past datetime's range
            fetched = datetime.now(UTC)
        old: dict[str, str] = position.get("items", {})
        entries = self.entries(resp.content, resp.headers.get("content-type", ""), fetched)
        compact = len(entries) > COMPACT_POSITION_ABOVE
        seen: dict[str, str] = {}
        items: list[SourceRecord | DeadLetter] = []
        for entry in entries:
            version = content_hash(entry.version)[:16]
            hashed = "#" + content_hash(entry.ref)[:16]
            ref = hashed if compact else entry.ref
            if version not in (old.get(entry.ref), old.get(hashed), seen.get(ref)):
                items.append(entry.item)
            seen[ref] = version
        new["items"] = seen
        return PollResult(items, new, more=False, source_time=fetched)


# -- CLI ------------------------------------------------------------------------------
def poll_options(name: str, what: str) -> Callable[[F], F]:
    """The options a document calendar's command ends with: ``--poll-interval`` (seconds
    between fetches of one ``what``) and ``--name`` (default ``name``)."""
    interval = click.option(
        "--poll-interval", type=click.FloatRange(min=1), default=None,
        help=f"Seconds between fetches of a {what} (default: connector.poll_interval_s).")

    def apply(command: F) -> F:
        return interval(name_option(name)(command))

    return apply


def run_sources(settings: Settings, name: str,
                make_sources: Callable[[CalendarMetrics], Sequence[PollingSource]],
                poll_interval_s: float | None = None) -> None:
    """Run one ``SourceRunner`` per source (one thread each) until SIGTERM/SIGINT.

    Args:
        settings: the deployment settings.
        name: the connector name (metrics label, position key prefix).
        make_sources: builds the polling sources (each keeps its own position) with
            this process's metric container.
        poll_interval_s: seconds between polls once caught up (default: the
            ``connector.poll_interval_s`` setting).

    """
    context = ConnectorContext(settings, name).open()
    try:
        sources = make_sources(CalendarMetrics(context.metrics_registry))
        context.positions.load_all()
        cs = settings.connector
        interval = poll_interval_s or cs.poll_interval_s
        runners = [SourceRunner(s, context.publisher, context.positions,
                                poll_interval_s=interval, backoff_max_s=cs.backoff_max_s)
                   for s in sources]
        threads = [threading.Thread(target=r.run, name=f"{name}-{i}", daemon=True)
                   for i, r in enumerate(runners)]
        stop = threading.Event()

        def _stop(*_: object) -> None:
            stop.set()
            for r in runners:
                r.stop()

        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _stop)
        for t in threads:
            t.start()
        log.info("connector running", extra={"connector": name, "sources": len(runners)})
        while not stop.is_set() and any(t.is_alive() for t in threads):
            stop.wait(1.0)
        for t in threads:
            t.join(timeout=settings.connector.delivery_timeout_s + 10)
    finally:
        context.close()

"""Polls the UiTdatabank Search API v3 for events modified since the cursor.

Request: ``GET {base}/events?modifiedFrom=<iso>&sort[modified]=asc&start=0&limit=<n>
&embed=true`` plus filters that undo the Search API's default filters which would hide
changes from a change reader (``workflowStatus`` also DELETED/REJECTED so withdrawals
arrive, ``availableFrom=*`` so an event published under embargo is not passed by the
cursor, ``addressCountry=*``, ``audienceType=*``). ``availableTo`` keeps its default:
events that are over do not matter. Authentication: ``X-Client-Id`` or (older
integrations) ``X-Api-Key`` header.

Cursor (the position): ``{"modifiedFrom": <iso of the last item processed>,
"seen_at_that_time": [uuids modified at exactly that instant]}``. ``modifiedFrom`` is
inclusive, so the next poll sees the items of that instant again and skips the ones
it already processed: an item sharing its ``modified`` with the last one of a page is
neither skipped nor repeated. Should a whole page hold only already-seen items of one
instant (more than ``limit`` events modified in the same second), the poll pages on
with ``start=len(seen)``. ``modifiedTo = now - settle`` keeps the cursor behind the
search index's refresh lag. The runner saves the cursor only after Kafka
acknowledged the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bus.log import get_logger
from bus.topics import PERFORMANCES
from connectors.calendar.common import Backoff, CalendarMetrics, HttpGetter, clip, host_of
from connectors.calendar.uitdatabank.mapping import event_uuid, map_event, member_bytes
from connectors.sdk.errors import MappingError, Retry
from connectors.sdk.jsonbody import BadJson, load_json
from connectors.sdk.records import DeadLetter, PollResult, SourceRecord

__all__ = ["DEFAULT_FILTERS", "UitdatabankSource"]

log = get_logger(__name__)

DEFAULT_FILTERS: dict[str, str] = {
    "workflowStatus": "READY_FOR_VALIDATION,APPROVED,REJECTED,DELETED",
    "availableFrom": "*",
    "addressCountry": "*",
    "audienceType": "*",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


class UitdatabankSource:
    """A ``PollingSource`` over the Search API's ``/events``.

    Args:
        base_url: e.g. ``https://search.uitdatabank.be``.
        api_key: sent as ``X-Api-Key`` (integrations from before 2023).
        client_id: sent as ``X-Client-Id`` (current integrations).
        account: names this feed in facts and positions (default: the host).
        page_size: ``limit`` per request (the API allows at most 2000).
        since: where a first run starts (default: everything the filters let through).
        settle_s: read only items modified at least this long ago.
        filters: query parameters replacing ``DEFAULT_FILTERS``.
        client: an httpx client (tests); built from the other arguments otherwise.
        metrics: counts skipped (periodic, permanent, draft) events.
        backoff: the delay policy between failed requests.
        connector: the connector name used as metrics label.
        clock: now, in UTC (tests).

    """

    def __init__(self, base_url: str, *, api_key: str | None = None,
                 client_id: str | None = None, account: str | None = None,
                 page_size: int = 200, since: datetime | None = None, settle_s: float = 10.0,
                 filters: dict[str, str] | None = None, client: httpx.Client | None = None,
                 metrics: CalendarMetrics | None = None, backoff: Backoff | None = None,
                 connector: str = "uitdatabank",
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if not 1 <= page_size <= 2000:
            raise ValueError("page_size must be between 1 and 2000 (the Search API's limit)")
        self.base_url = base_url.rstrip("/")
        self.account = account or host_of(self.base_url)
        self.source_partition = f"uitdatabank:{self.account}"
        self.page_size = page_size
        self.since = since or _EPOCH
        self.settle = timedelta(seconds=settle_s)
        self.filters = dict(DEFAULT_FILTERS if filters is None else filters)
        headers = {"Accept": "application/ld+json, application/json"}
        if client_id:
            headers["X-Client-Id"] = client_id
        if api_key:
            headers["X-Api-Key"] = api_key
        self._client = client or httpx.Client(headers=headers, timeout=30.0)
        if client is not None:
            self._client.headers.update(headers)
        self._http = HttpGetter("UiTdatabank Search API", self._client, backoff or Backoff())
        self.metrics = metrics
        self.connector = connector
        self.clock = clock

    def close(self) -> None:
        self._client.close()

    # -- HTTP -----------------------------------------------------------------------
    def _page(self, modified_from: datetime, start: int) -> tuple[list[Any], int, int]:
        params: dict[str, Any] = {
            **self.filters,
            "modifiedFrom": _iso(modified_from),
            "sort[modified]": "asc",
            "start": start,
            "limit": self.page_size,
            "embed": "true",
        }
        if self.settle:
            params["modifiedTo"] = _iso(self.clock() - self.settle)
        resp = self._http.get(f"{self.base_url}/events", params=params)
        try:
            body = load_json(resp.content)
            members = body["member"]
            if not isinstance(members, list):
                raise TypeError("member is not a list")
        except (BadJson, KeyError, TypeError) as exc:
            delay = self._http.backoff.next()
            log.error("search page is not a PagedCollection", extra={
                "url": str(resp.url), "body": resp.text[:300]})
            raise Retry(f"UiTdatabank answered {resp.url} with something that is not a "
                        f"PagedCollection ({exc}); retrying in {delay:.1f}s",
                        retry_after=delay) from exc
        per_page = body.get("itemsPerPage")
        per_page = per_page if isinstance(per_page, int) and per_page > 0 else self.page_size
        total = body.get("totalItems")
        return members, per_page, total if isinstance(total, int) else len(members)

    # -- PollingSource --------------------------------------------------------------
    def poll(self, position: dict[str, Any] | None) -> PollResult:
        """The next page of modified events after the cursor, mapped."""
        cursor = datetime.fromisoformat(position["modifiedFrom"]) if position else self.since
        seen = set(position.get("seen_at_that_time", [])) if position else set()
        members, per_page, total = self._page(cursor, 0)
        if (seen and len(members) >= per_page
                and all(self._already_seen(m, cursor, seen) for m in members)):
            members, per_page, total = self._page(cursor, len(seen))
        items: list[SourceRecord | DeadLetter] = []
        newest, newest_ids = cursor, set(seen)
        for n, member in enumerate(members):
            if self._already_seen(member, cursor, seen):
                continue
            where = f"modifiedFrom={_iso(cursor)} member {n}"
            try:
                mapped = map_event(member, account=self.account)
            except MappingError as exc:
                items.append(DeadLetter(PERFORMANCES, clip(member_bytes(member)), exc,
                                        where=where))
                newest, newest_ids = self._advance(member, newest, newest_ids)
                continue
            if mapped.skipped:
                log.info("event has no discrete performances; not published", extra={
                    "event": mapped.event_uuid, "reason": mapped.skipped})
                if self.metrics is not None:
                    self.metrics.skipped.labels(self.connector, mapped.skipped).inc()
            items.extend(SourceRecord(PERFORMANCES, p.performance_key, p)
                         for p in mapped.performances)
            raw = clip(member_bytes(member)) if mapped.failures else b""
            items.extend(DeadLetter(PERFORMANCES, raw, exc, key=f"uit|{ref}", where=ref)
                         for ref, exc in mapped.failures)
            newest, newest_ids = self._advance(member, newest, newest_ids)
        progressed = newest > cursor or newest_ids != seen
        more = progressed and len(members) >= per_page and total > 0
        return PollResult(items, {"modifiedFrom": _iso(newest),
                                  "seen_at_that_time": sorted(newest_ids)},
                          more=more, source_time=newest if newest > _EPOCH else None)

    @staticmethod
    def _identity(member: Any) -> tuple[datetime, str] | None:
        if not isinstance(member, dict):
            return None
        try:
            modified = datetime.fromisoformat(str(member.get("modified")))
            if modified.tzinfo is None:
                return None
            return modified.astimezone(UTC), event_uuid(member.get("@id"))
        except (ValueError, OverflowError, MappingError):  # OverflowError: past year 9999 in UTC
            return None

    def _already_seen(self, member: Any, cursor: datetime, seen: set[str]) -> bool:
        ident = self._identity(member)
        return ident is not None and ident[0] <= cursor and ident[1] in seen

    def _advance(self, member: Any, newest: datetime,
                 ids: set[str]) -> tuple[datetime, set[str]]:
        ident = self._identity(member)
        if ident is None or ident[0] > self.clock():  # a date in the future is no position
            return newest, ids
        modified, uuid = ident
        if modified > newest:
            return modified, {uuid}
        if modified == newest:
            return newest, ids | {uuid}
        return newest, ids


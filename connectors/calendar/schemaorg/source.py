"""Polls one web page (or JSON-LD document) for schema.org Events.

Fetched with conditional GET (ETag / Last-Modified); an unchanged page, or an
unchanged event on a changed page, publishes nothing (``DocumentSource``). A JSON-LD
block that is not JSON, or an Event that cannot be mapped, becomes a dead letter
(once per distinct content). HTTP errors: ``Retry`` with backoff, never a skip.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import httpx

from bus.topics import PERFORMANCES
from connectors.calendar.common import DEFAULT_TIMEZONE, Backoff, DocumentSource, Entry, clip, host_of
from connectors.calendar.schemaorg.extract import blocks_of
from connectors.calendar.schemaorg.mapping import Page, map_page
from connectors.sdk.records import DeadLetter, SourceRecord

__all__ = ["SchemaOrgSource"]


class SchemaOrgSource(DocumentSource):
    """A ``PollingSource`` over one URL.

    Args:
        url: the page or JSON-LD document.
        account: names the site in facts (default: the host).
        timezone: zone of date-times without an offset.
        country: venue country when the address does not say.
        client: an httpx client (tests).
        backoff: the delay policy between failed requests.

    """

    def __init__(self, url: str, *, account: str | None = None,
                 timezone: str = DEFAULT_TIMEZONE, country: str = "NL",
                 client: httpx.Client | None = None, backoff: Backoff | None = None) -> None:
        super().__init__(url, what=f"schema.org page {url}", partition_prefix="schemaorg",
                         client=client, backoff=backoff)
        self.account = account or host_of(url)
        self.timezone = ZoneInfo(timezone)
        self.country = country

    def entries(self, body: bytes, content_type: str, modified: datetime) -> list[Entry]:
        page = Page(self.url, self.account, self.timezone, self.country, modified)
        performances, failures = map_page(blocks_of(body, content_type), page)
        out = [Entry(p.performance_key, p.fact_id,
                     SourceRecord(PERFORMANCES, p.performance_key, p)) for p in performances]
        out.extend(Entry(f.ref, f.ref, DeadLetter(PERFORMANCES, clip(f.raw), f.error,
                                                  where=self.url))
                   for f in failures)
        return out

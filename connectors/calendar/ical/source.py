"""Polls one iCalendar feed (``DocumentSource``: conditional GET, only changed
occurrences published; position ``items`` = ``{uid@start: version}``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx

from bus.topics import PERFORMANCES
from connectors.calendar.common import DEFAULT_TIMEZONE, Backoff, DocumentSource, Entry, clip, host_of
from connectors.calendar.ical.mapping import Feed, map_feed
from connectors.sdk.records import DeadLetter, SourceRecord

__all__ = ["IcalSource"]


class IcalSource(DocumentSource):
    """A ``PollingSource`` over one feed URL.

    Args:
        url: the feed (``webcal://`` is read as ``https://``).
        name: the feed's name in keys (``ical:<name>``; default: the host).
        timezone: zone of floating times (unless the feed has X-WR-TIMEZONE).
        venue_name, venue_id, venue_city, venue_postcode, venue_country: a fixed venue
            for feeds of one house (LOCATION then names the hall).
        capacity_default: capacity to report (iCalendar has none: null by default).
        horizon_days, lookback_days: the window occurrences are expanded in.
        client: an httpx client (tests).
        backoff: the delay policy between failed requests.
        clock: now, in UTC (tests).

    """

    def __init__(self, url: str, *, name: str | None = None, timezone: str = DEFAULT_TIMEZONE,
                 venue_name: str | None = None, venue_id: str | None = None,
                 venue_city: str | None = None, venue_postcode: str | None = None,
                 venue_country: str = "NL", capacity_default: int | None = None,
                 horizon_days: int = 365, lookback_days: int = 1,
                 client: httpx.Client | None = None, backoff: Backoff | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if url.startswith("webcal://"):
            url = "https://" + url[len("webcal://"):]
        super().__init__(url, what=f"iCalendar feed {url}", partition_prefix="ical",
                         client=client, backoff=backoff)
        feed_name = name or host_of(url)
        self.feed = Feed(name=feed_name, account=feed_name, timezone=ZoneInfo(timezone),
                         venue_name=venue_name, venue_id=venue_id, venue_city=venue_city,
                         venue_postcode=venue_postcode, venue_country=venue_country,
                         capacity_default=capacity_default, horizon_days=horizon_days,
                         lookback_days=lookback_days)
        self.clock = clock

    def entries(self, body: bytes, content_type: str, modified: datetime) -> list[Entry]:
        performances, failures = map_feed(body, self.feed, now=self.clock(), fetched=modified)
        out = [Entry(p.identifiers[0].value, p.fact_id,
                     SourceRecord(PERFORMANCES, p.performance_key, p)) for p in performances]
        out.extend(Entry(f.ref, f.ref, DeadLetter(PERFORMANCES, clip(f.raw), f.error,
                                                  where=self.url))
                   for f in failures)
        return out

"""``cultuurbus connector ical URL...``: poll iCalendar feeds."""

from __future__ import annotations

import click

from connectors.calendar.common import DEFAULT_TIMEZONE, CalendarMetrics, poll_options, run_sources
from connectors.calendar.ical.source import IcalSource
from connectors.sdk.cli import settings_of

__all__ = ["command"]


@click.command("ical")
@click.argument("urls", nargs=-1, required=True)
@click.option("--feed-name", default=None,
              help="Name of the feed in performance keys (ical:<name>); default: its host. "
                   "Only with a single URL.")
@click.option("--timezone", default=DEFAULT_TIMEZONE, show_default=True,
              help="Zone of floating times (Europe/Amsterdam or Europe/Brussels: same offsets).")
@click.option("--venue-name", default=None,
              help="Every event is at this venue; LOCATION then names the hall.")
@click.option("--venue-id", default=None, help="Id of that venue (default: ical:<feed>).")
@click.option("--venue-city", default=None)
@click.option("--venue-postcode", default=None)
@click.option("--venue-country", default="NL", show_default=True)
@click.option("--capacity-default", type=click.IntRange(min=0), default=None,
              help="Capacity to report (iCalendar has none; default: null).")
@click.option("--horizon-days", type=click.IntRange(1, 3650), default=365, show_default=True,
              help="Expand recurring events this far ahead.")
@poll_options("ical", "feed")
@click.pass_context
def command(ctx: click.Context, urls: tuple[str, ...], feed_name: str | None, timezone: str,
            venue_name: str | None, venue_id: str | None, venue_city: str | None,
            venue_postcode: str | None, venue_country: str, capacity_default: int | None,
            horizon_days: int, poll_interval: float | None, name: str) -> None:
    """Publish every occurrence in the iCalendar feeds URLS (RRULEs expanded)."""
    if feed_name and len(urls) > 1:
        raise click.UsageError("--feed-name names one feed; give one URL or leave it out")
    for url in urls:
        if not url.startswith(("http://", "https://", "webcal://")):
            raise click.BadParameter(f"{url!r} is not an http(s) or webcal URL", param_hint="URLS")

    def make(metrics: CalendarMetrics) -> list[IcalSource]:
        return [IcalSource(u, name=feed_name, timezone=timezone, venue_name=venue_name,
                           venue_id=venue_id, venue_city=venue_city, venue_postcode=venue_postcode,
                           venue_country=venue_country.upper(), capacity_default=capacity_default,
                           horizon_days=horizon_days) for u in urls]

    run_sources(settings_of(ctx), name, make, poll_interval_s=poll_interval)

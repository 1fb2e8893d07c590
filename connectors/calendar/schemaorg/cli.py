"""``cultuurbus connector schemaorg URL...``: poll pages for schema.org Events."""

from __future__ import annotations

import click

from connectors.calendar.common import DEFAULT_TIMEZONE, CalendarMetrics, poll_options, run_sources
from connectors.calendar.schemaorg.source import SchemaOrgSource
from connectors.sdk.cli import settings_of

__all__ = ["command"]


@click.command("schemaorg")
@click.argument("urls", nargs=-1, required=True)
@click.option("--timezone", default=DEFAULT_TIMEZONE, show_default=True,
              help="Zone of date-times that carry no offset.")
@click.option("--country", default="NL", show_default=True,
              help="Venue country when an address does not say (NL or BE).")
@poll_options("schemaorg", "page")
@click.pass_context
def command(ctx: click.Context, urls: tuple[str, ...], timezone: str, country: str,
            poll_interval: float | None, name: str) -> None:
    """Publish the performances that schema.org Event JSON-LD on URLS describes."""
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="URLS")

    def make(metrics: CalendarMetrics) -> list[SchemaOrgSource]:
        return [SchemaOrgSource(u, timezone=timezone, country=country.upper()) for u in urls]

    run_sources(settings_of(ctx), name, make, poll_interval_s=poll_interval)

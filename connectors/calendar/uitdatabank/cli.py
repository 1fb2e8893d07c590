"""``cultuurbus connector uitdatabank``: poll the UiTdatabank Search API."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from connectors.calendar.common import CalendarMetrics, run_sources
from connectors.calendar.uitdatabank.source import UitdatabankSource
from connectors.sdk.cli import name_option, settings_of

__all__ = ["command"]


@click.command("uitdatabank")
@click.option("--base-url", required=True, envvar="CULTUURBUS_UITDATABANK_BASE_URL",
              help="Search API root, e.g. https://search.uitdatabank.be")
@click.option("--api-key", envvar="CULTUURBUS_UITDATABANK_API_KEY", default=None,
              help="Sent as X-Api-Key (older integrations). Prefer the env var.")
@click.option("--client-id", envvar="CULTUURBUS_UITDATABANK_CLIENT_ID", default=None,
              help="Sent as X-Client-Id (current integrations).")
@click.option("--account", default=None, help="Names this feed in facts (default: the host).")
@click.option("--page-size", type=click.IntRange(1, 2000), default=200, show_default=True)
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z"]), default=None,
              help="First run only: read events modified on or after this (UTC if no offset).")
@click.option("--settle-seconds", type=click.FloatRange(0), default=10.0, show_default=True,
              help="Read only events modified at least this long ago (search index lag).")
@name_option("uitdatabank")
@click.pass_context
def command(ctx: click.Context, base_url: str, api_key: str | None, client_id: str | None,
            account: str | None, page_size: int, since: datetime | None, settle_seconds: float,
            name: str) -> None:
    """Publish every UiT performance (event x subEvent) modified since the cursor."""
    if not (api_key or client_id):
        raise click.UsageError("give --client-id or --api-key (or their CULTUURBUS_UITDATABANK_* "
                               "env vars): the Search API refuses anonymous requests")
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)

    def make(metrics: CalendarMetrics) -> list[UitdatabankSource]:
        return [UitdatabankSource(base_url, api_key=api_key, client_id=client_id,
                                  account=account, page_size=page_size, since=since,
                                  settle_s=settle_seconds, metrics=metrics, connector=name)]

    run_sources(settings_of(ctx), name, make)

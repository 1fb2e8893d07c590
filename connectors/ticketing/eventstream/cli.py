"""``cultuurbus connector eventstream``: poll a Ticketmatic account's eventstream."""

from __future__ import annotations

import click

from bus.log import get_logger
from connectors.sdk.cli import TICKET_TYPES, name_option, settings_of, ticket_type_map
from connectors.sdk.context import ConnectorContext
from connectors.sdk.identifiers import IdFields
from connectors.sdk.runner import SourceRunner
from connectors.ticketing.eventstream.client import DEFAULT_BASE_URL, EventstreamClient
from connectors.ticketing.eventstream.mapping import MappingEnv
from connectors.ticketing.eventstream.metrics import EventstreamMetrics
from connectors.ticketing.eventstream.source import EventstreamSource
from schemas.models import TicketType

__all__ = ["command", "parse_pricetypes"]

log = get_logger(__name__)


def parse_pricetypes(values: tuple[str, ...]) -> dict[str, TicketType]:
    """``("12=DISCOUNT", "3=free")`` -> ``{"12": DISCOUNT, "3": FREE}``."""
    return ticket_type_map(values, "--pricetype", "PRICETYPEID")


@click.command("eventstream")
@click.option("--base-url", default=DEFAULT_BASE_URL, show_default=True,
              envvar="CULTUURBUS_TICKETMATIC_BASE_URL", help="Ticketmatic API root.")
@click.option("--account", required=True, envvar="CULTUURBUS_TICKETMATIC_ACCOUNT",
              help="Ticketmatic account name (the {account} path segment).")
@click.option("--access-key", envvar="CULTUURBUS_TICKETMATIC_ACCESS_KEY", default=None,
              help="API access key (prefer the env var).")
@click.option("--secret-key", envvar="CULTUURBUS_TICKETMATIC_SECRET_KEY", default=None,
              help="API secret key (prefer the env var; never on the command line in production).")
@click.option("--pricetype", "pricetypes", multiple=True, metavar="PRICETYPEID=TYPE",
              help="Map a Ticketmatic price type id to NORMAL, DISCOUNT, FREE or OTHER. Repeatable.")
@click.option("--default-ticket-type", type=click.Choice(TICKET_TYPES, case_sensitive=False),
              default="OTHER", show_default=True,
              help="Ticket type of unmapped price types (a price of 0 counts as FREE).")
@click.option("--id-field", "id_fields", multiple=True, metavar="NS=FIELD",
              help="An event custom field (with its c_ prefix) holding a sector id: "
                   "dip=c_dipid ('<production>|<number>'), uit=c_uitdatabankid (uuid, uuid#n "
                   "or a UiT URL). Repeatable; default: dip=c_dipid.")
@click.option("--start-id", default="0", show_default=True,
              help="First run only (no saved cursor): the eventstream id to start at.")
@click.option("--currency", default="EUR", show_default=True)
@name_option("eventstream")
@click.option("--until-caught-up", is_flag=True,
              help="Exit once the stream has no more results (for batch runs and tests).")
@click.option("--metrics/--no-metrics", "serve_metrics", default=True, show_default=True,
              help="Serve /metrics and /healthz on connector.metrics_port.")
def command(base_url: str, account: str, access_key: str | None, secret_key: str | None,
            pricetypes: tuple[str, ...], default_ticket_type: str, id_fields: tuple[str, ...],
            start_id: str, currency: str, name: str, until_caught_up: bool,
            serve_metrics: bool) -> None:
    """Publish a Ticketmatic account's sales, cancellations, refunds, door scans and event
    updates from its eventstream. The cursor is saved (connect.positions) only after
    Kafka acknowledged the page; errors back off and retry the same page.
    """
    if bool(access_key) != bool(secret_key):
        raise click.UsageError("give both --access-key and --secret-key (or neither, for a "
                               "test server)")
    fields = IdFields.parse(id_fields or ("dip=c_dipid",))
    settings = settings_of(click.get_current_context())
    ctx = ConnectorContext(settings, name, serve_metrics=serve_metrics).open()
    client = EventstreamClient(base_url, account, access_key=access_key, secret_key=secret_key)
    try:
        env = MappingEnv(account, ctx.pseudonymiser, parse_pricetypes(pricetypes),
                         TicketType(default_ticket_type.upper()),
                         fields.counting(ctx.metrics_registry, name), currency,
                         window=ctx.window)
        source = EventstreamSource(client, env, start_id=start_id,
                                   metrics=EventstreamMetrics(ctx.metrics_registry),
                                   connector=name)
        runner = SourceRunner(source, ctx.publisher, ctx.positions,
                              poll_interval_s=settings.connector.poll_interval_s,
                              backoff_max_s=settings.connector.backoff_max_s)
        runner.install_signal_handlers()
        log.info("eventstream poller starting", extra={"account": account, "url": client.url})
        runner.run(until_caught_up=until_caught_up)
        click.echo(f"eventstream {account}: {runner.pages} pages, {runner.published} facts "
                   "published", err=True)
    finally:
        client.close()
        ctx.close()


if __name__ == "__main__":  # pragma: no cover
    command()

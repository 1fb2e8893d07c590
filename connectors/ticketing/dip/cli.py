"""``cultuurbus connector dip``: DIP's cumulative calls received (default), a vendor's
cumulative list polled (``--poll URL``), or DIP's calendar polled (``--calendar-url``).
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any

import click
from pydantic import SecretStr

from bus.errors import RetriableError
from bus.http import HttpServer
from bus.log import get_logger
from bus.settings import Settings
from connectors.sdk.cli import settings_of
from connectors.sdk.context import ConnectorContext
from connectors.sdk.runner import SourceRunner
from connectors.ticketing.dip.app import create_app
from connectors.ticketing.dip.book import SnapshotBook
from connectors.ticketing.dip.calendar import DipCalendarSource
from connectors.ticketing.dip.poller import DipCumulativeSource
from connectors.ticketing.dip.receiver import DipReceiver

__all__ = ["PORT_SETTING", "command"]

log = get_logger(__name__)
#: How a user moves the receiver's port (named when it is taken).
PORT_SETTING = "`cultuurbus connector dip --port N` or CULTUURBUS_CONNECTOR__HTTP_PORT"


def _poll(settings: Settings, name: str, source: Any, serve_metrics: bool,
          until_caught_up: bool) -> None:
    ctx = ConnectorContext(settings, name, serve_metrics=serve_metrics).open()
    try:
        runner = SourceRunner(source, ctx.publisher, ctx.positions,
                              poll_interval_s=settings.connector.poll_interval_s,
                              backoff_max_s=settings.connector.backoff_max_s)
        runner.install_signal_handlers()
        runner.run(until_caught_up=until_caught_up)
        click.echo(f"{name}: {runner.pages} pages, {runner.published} facts published", err=True)
    finally:
        source.close()
        ctx.close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _receive(settings: Settings, name: str, account: str, token: str | None, host: str | None,
             port: int | None, graceful: float) -> None:
    host = host or settings.connector.http_host
    port = settings.connector.http_port if port is None else port
    if token is None:
        if not _loopback(host):
            raise click.UsageError(f"the receiver would take and show sales on {host} without "
                                   "authentication: give --token (or CULTUURBUS_DIP_TOKEN)")
        log.warning("dip receiver without a token: any local process may send and read "
                    "sales; give --token (or CULTUURBUS_DIP_TOKEN)", extra={"host": host})
    ctx = ConnectorContext(settings, name, serve_metrics=False).open()
    try:
        book = SnapshotBook(ctx.positions)
        try:
            book.load()
        except RetriableError as exc:  # served 503 until Kafka answers
            log.warning("stored snapshot parts not read yet", extra={"error": str(exc)[:300]})
        receiver = DipReceiver(ctx, account, book, token=SecretStr(token) if token else None)
        log.info("dip receiver starting", extra={"host": host, "port": port, "account": account})
        HttpServer(create_app(receiver), host, port, graceful_s=graceful, name="dip",
                   setting=PORT_SETTING).run()
    finally:
        ctx.close()


@click.command("dip")
@click.option("--account", default=None,
              help="Names the ticketing system or theatre in facts. [receiver default: dip; "
                   "pollers: the URL's host]")
@click.option("--host", default=None, help="Receiver interface. [default: connector.http_host]")
@click.option("--port", type=int, default=None, help="Receiver port. [default: connector.http_port]")
@click.option("--token", envvar="CULTUURBUS_DIP_TOKEN", default=None,
              help="Receiver: require 'Authorization: Bearer <token>' on every call that takes "
                   "or shows data (prefer the env var); needed unless the host is loopback.")
@click.option("--poll", "poll_url", default=None, metavar="URL",
              help="Poll a vendor's cumulative list at URL instead of receiving calls.")
@click.option("--calendar-url", default=None, metavar="URL",
              help="Poll DIP productions/performances under URL into calendar.performances.")
@click.option("--api-key", envvar="CULTUURBUS_DIP_API_KEY", default=None,
              help="Pollers: sent as 'Authorization: Bearer' (prefer the env var).")
@click.option("--since", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z"]), default=None,
              help="Calendar, first run only: productions updated on or after this (UTC).")
@click.option("--name", default=None,
              help="Connector name (metrics label, position key). [dip | dip-poll | dip-calendar]")
@click.option("--until-caught-up", is_flag=True, help="Pollers: exit once caught up.")
@click.option("--metrics/--no-metrics", "serve_metrics", default=True, show_default=True,
              help="Pollers: serve /metrics on connector.metrics_port (the receiver serves its own).")
@click.option("--graceful-timeout", type=float, default=10.0, show_default=True)
def command(account: str | None, host: str | None, port: int | None, token: str | None,
            poll_url: str | None, calendar_url: str | None, api_key: str | None,
            since: datetime | None, name: str | None, until_caught_up: bool, serve_metrics: bool,
            graceful_timeout: float) -> None:
    r"""DIP cumulative sales to ticketing.snapshots, or DIP's calendar to calendar.performances.

    \b
    Receiver (default): ticketing systems send the calls they send DIP:
      PUT /productions/{production}/performances/{number}/tickets/cumulative
      PUT .../reservations/cumulative, .../blocked-seats/cumulative, .../capacity
    Each is answered 200 only after Kafka acknowledged its SalesSnapshot; 4xx names the
    bad field (dead-lettered); 503 + Retry-After when Kafka is down. OpenAPI at /docs.
    The token and the declared size are checked before a body is read.
    """
    if poll_url and calendar_url:
        raise click.UsageError("give --poll or --calendar-url, not both (run two connectors)")
    settings = settings_of(click.get_current_context())
    if calendar_url:
        start = since.replace(tzinfo=UTC) if since is not None and since.tzinfo is None else since
        _poll(settings, name or "dip-calendar",
              DipCalendarSource(calendar_url, account=account, api_key=api_key, since=start),
              serve_metrics, until_caught_up)
    elif poll_url:
        _poll(settings, name or "dip-poll",
              DipCumulativeSource(poll_url, account=account, api_key=api_key),
              serve_metrics, until_caught_up)
    else:
        _receive(settings, name or "dip", account or "dip", token, host, port, graceful_timeout)


if __name__ == "__main__":  # pragma: no cover
    command()

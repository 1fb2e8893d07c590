"""``cultuurbus sink clickhouse|migrate`` and ``cultuurbus report sales|audience|benchmark``.

The root group puts the :class:`bus.settings.Settings` in ``ctx.find_root().obj``;
``python -m sinks.clickhouse`` provides such a root when run on its own.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

import click
from clickhouse_connect.driver.exceptions import DatabaseError
from prometheus_client import CollectorRegistry

from bus.directory import read_directory
from bus.errors import ConfigError, RetriableError
from bus.log import get_logger
from bus.metrics import Health, MetricsServer
from bus.settings import REPORT_MIN_BUYERS_FLOOR, Settings, load_settings
from sinks.clickhouse.connect import EMBEDDED_URL, connect_clickhouse
from sinks.clickhouse.errors import SinkError
from sinks.clickhouse.migrate import applied_migrations, load_migrations, migrate
from sinks.clickhouse.render import FORMATS, render
from sinks.clickhouse.reports import (
    MIN_VENUES,
    ReportTable,
    audience_report,
    benchmark_report,
    sales_report,
)
from sinks.clickhouse.scope import OPERATOR, ReportRefused, Scope, scope_for
from sinks.clickhouse.sink import ClickHouseSink

__all__ = ["report", "sink", "sink_clickhouse", "sink_migrate"]

log = get_logger("sinks.clickhouse.cli")

_URL_HELP = (f"ClickHouse URL for this run (default: settings clickhouse.url); http://HOST:PORT "
             f"or chdb://PATH, e.g. {EMBEDDED_URL} for the embedded engine without a server.")


def _settings(ctx: click.Context, url: str | None = None) -> Settings:
    obj = ctx.find_root().obj
    settings = obj if isinstance(obj, Settings) else load_settings()
    if url:
        settings = settings.model_copy(
            update={"clickhouse": settings.clickhouse.model_copy(update={"url": url})})
    return settings


def _url_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--clickhouse-url", "url", default=None, help=_URL_HELP)(fn)


@click.group("sink")
def sink() -> None:
    """Sinks: write the bus's topics into other systems."""


@sink.command("clickhouse")
@_url_option
@click.option("--metrics-port", type=int, default=None,
              help="Port of /metrics and /healthz (default: settings sink.metrics_port; 0 = any).")
@click.option("--unmatched/--no-unmatched", default=True, show_default=True,
              help="Also record facts parked for an unknown performance.")
@click.option("--migrate/--no-migrate", "apply_migrations", default=True, show_default=True,
              help="Apply pending migrations on start.")
@click.pass_context
def sink_clickhouse(ctx: click.Context, url: str | None, metrics_port: int | None,
                    unmatched: bool, apply_migrations: bool) -> None:
    """Write canonical facts and derived state to ClickHouse, exactly once in effect.

    Runs until SIGTERM or Ctrl-C, then flushes the open batch, commits and exits.
    """
    settings = _settings(ctx, url)
    registry = CollectorRegistry()
    health = Health()
    worker = ClickHouseSink(settings, registry=registry, health=health, with_unmatched=unmatched,
                            apply_migrations=apply_migrations)
    port = settings.sink.metrics_port if metrics_port is None else metrics_port
    try:
        server = MetricsServer(registry, port, health=health).start()
    except OSError as exc:
        raise ConfigError(f"cannot serve metrics on 127.0.0.1:{port} ({exc}); another sink may use "
                          "it: pass --metrics-port or set CULTUURBUS_SINK__METRICS_PORT") from exc
    log.info("metrics served", extra={"port": server.port})

    stopping = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stopping.set()
        worker.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        worker.setup()
        worker.run()
    except RetriableError:
        if not stopping.is_set():
            raise  # stopped while ClickHouse was still away: a clean exit
    finally:
        worker.close()
        server.close()


@sink.command("migrate")
@_url_option
@click.option("--status", is_flag=True, help="Only show applied and pending migrations.")
@click.pass_context
def sink_migrate(ctx: click.Context, url: str | None, status: bool) -> None:
    """Apply the ClickHouse schema migrations (idempotent; the sink also runs them on start)."""
    settings = _settings(ctx, url)
    client = connect_clickhouse(settings.clickhouse)
    try:
        if status:
            done = applied_migrations(client)
            for m in load_migrations():
                state = "applied" if m.version in done else "pending"
                click.echo(f"{m.label:32} {state:8} {m.checksum[:12]}")
            return
        applied = migrate(client)
        if applied:
            for m in applied:
                click.echo(f"applied {m.label}")
        else:
            click.echo(f"database {settings.clickhouse.database} is up to date")
    finally:
        client.close()


@click.group("report")
def report() -> None:
    """Ready analytics: sales monitor, audience monitor, benchmarks (from ClickHouse).

    Every report is for a caller: a tenant's API token (--token, or settings report.token,
    e.g. CULTUURBUS_REPORT__TOKEN) shows what that tenant may see (docs/reports-access.md);
    --operator shows every venue, with the ClickHouse credentials of these settings.
    """


def _caller(settings: Settings, name: str, token: str | None, operator: bool) -> Scope:
    """The scope of whoever runs report ``name``; :class:`ReportRefused` when none."""
    if operator:
        if token:
            raise ReportRefused("pass either --token (a tenant's view) or --operator, not both")
        return OPERATOR
    secret = token or (settings.report.token.get_secret_value() if settings.report.token else "")
    if not secret:
        raise ReportRefused(
            f"`report {name}` needs the caller's API token: --token TOKEN, or report.token in the "
            "settings (CULTUURBUS_REPORT__TOKEN), as `cultuurbus tenant add` printed it. The "
            "operator, holding the ClickHouse credentials, may ask for every venue with --operator")
    directory = read_directory(settings.kafka, settings.topic_prefix, source="report",
                               timeout=settings.report.directory_timeout_s)
    return scope_for(directory.by_token(secret), name)


def _show(ctx: click.Context, url: str | None, fmt: str, name: str, token: str | None,
          operator: bool, build: Callable[[Any, Scope], list[ReportTable]]) -> None:
    settings = _settings(ctx, url)
    scope = _caller(settings, name, token, operator)
    client = connect_clickhouse(settings.clickhouse)
    try:
        tables = build(client, scope)
    except DatabaseError as exc:
        if "UNKNOWN_TABLE" not in str(exc):
            raise
        raise SinkError(f"database {settings.clickhouse.database} at {settings.clickhouse.url} has "
                        "no sink tables yet: run `cultuurbus sink migrate` (or start the sink)") from exc
    finally:
        client.close()
    click.echo(render(tables, fmt).rstrip("\n"))


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--operator", is_flag=True,
                      help="The unscoped operator view (every venue); uses the ClickHouse "
                           "credentials of the settings, no token.")(fn)
    fn = click.option("--token", default=None, metavar="TOKEN",
                      help="The caller's API token (default: settings report.token, "
                           "CULTUURBUS_REPORT__TOKEN).")(fn)
    fn = click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                      show_default=True)(fn)
    return _url_option(fn)


@report.command("sales")
@_common
@click.option("--performance", "performance_id", default="", help="One canonical performance id.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.pass_context
def report_sales(ctx: click.Context, url: str | None, fmt: str, token: str | None, operator: bool,
                 performance_id: str, limit: int) -> None:
    """Occupancy, revenue per ticket type and the sales curve per performance (owner-only)."""
    _show(ctx, url, fmt, "sales", token, operator,
          lambda c, s: sales_report(c, scope=s, performance_id=performance_id, limit=limit))


@report.command("audience")
@_common
@click.option("--performance", "performance_id", default="", help="One canonical performance id.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Postcode areas to list.")
@click.option("--min-buyers", type=click.IntRange(min=REPORT_MIN_BUYERS_FLOOR), default=None,
              help="Buyers a group needs to be shown (default: settings report.min_buyers; "
                   f"never below {REPORT_MIN_BUYERS_FLOOR}).")
@click.pass_context
def report_audience(ctx: click.Context, url: str | None, fmt: str, token: str | None,
                    operator: bool, performance_id: str, top: int, min_buyers: int | None) -> None:
    """Reach by postcode area, first-time vs returning buyers, visit frequency (thresholded)."""
    floor = _settings(ctx).report.min_buyers
    _show(ctx, url, fmt, "audience", token, operator,
          lambda c, s: audience_report(c, scope=s, top=top, performance_id=performance_id,
                                       min_buyers=max(floor, min_buyers or floor)))


@report.command("benchmark")
@_common
@click.option("--by", "by", type=click.Choice(["genre", "region"]), multiple=True,
              help="Group by genre and/or region (default: both).")
@click.option("--min-venues", type=click.IntRange(min=MIN_VENUES), default=MIN_VENUES,
              show_default=True, help="Venues a group needs to be shown.")
@click.pass_context
def report_benchmark(ctx: click.Context, url: str | None, fmt: str, token: str | None,
                     operator: bool, by: tuple[str, ...], min_venues: int) -> None:
    """Occupancy, average price and discount share by genre and by region (sector-wide)."""
    _show(ctx, url, fmt, "benchmark", token, operator,
          lambda c, s: benchmark_report(c, scope=s, by=by or ("genre", "region"),
                                        min_venues=min_venues))

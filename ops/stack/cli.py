"""``cultuurbus stack``: bring the local Kafka, schema registry and ClickHouse up and down."""

from __future__ import annotations

import click

from ops.stack.errors import StackError
from ops.stack.manager import SERVICE_NAMES, StackManager
from ops.stack.service import ServiceStatus
from ops.stack.settings import StackSettings

__all__ = ["stack"]


def _manager(ctx: click.Context) -> StackManager:
    # The top-level CLI may put a StackSettings on the context; else read the environment.
    settings = ctx.find_object(StackSettings) or StackSettings()
    return StackManager(settings)


def _parse_only(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVICE_NAMES]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown service(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {','.join(SERVICE_NAMES)}"
        )
    return names


@click.group("stack")
def stack() -> None:
    """Local services: Kafka (KRaft), schema registry, ClickHouse, all on 127.0.0.1."""


@stack.command("up")
@click.option(
    "--only",
    callback=_parse_only,
    metavar="NAMES",
    help=f"Comma-separated subset of {','.join(SERVICE_NAMES)}.",
)
@click.pass_context
def up(ctx: click.Context, only: list[str] | None) -> None:
    """Start the services (idempotent) and wait until they answer."""
    try:
        _manager(ctx).up(only)
    except StackError as exc:
        click.echo(f"stack up failed: {exc}", err=True)
        ctx.exit(1)


@stack.command("fetch")
@click.pass_context
def fetch(ctx: click.Context) -> None:
    """Download the broker jars and the registry distribution (first run only)."""
    try:
        _manager(ctx).fetch()
    except StackError as exc:
        click.echo(f"stack fetch failed: {exc}", err=True)
        ctx.exit(1)


@stack.command("down")
@click.pass_context
def down(ctx: click.Context) -> None:
    """Stop the services this stack started (idempotent)."""
    try:
        _manager(ctx).down()
    except StackError as exc:
        click.echo(f"stack down failed: {exc}", err=True)
        ctx.exit(1)


def render_table(rows: list[ServiceStatus]) -> str:
    """The status rows as an aligned text table."""
    header = ("SERVICE", "VERSION", "ADDRESS", "HEALTH")
    cells = [
        (
            row.name,
            row.version or "-",
            row.address,
            f"{row.detail} (pid {row.pid})" if row.pid is not None else row.detail,
        )
        for row in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]
    return "\n".join(
        "  ".join(col.ljust(width) for col, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *cells]
    )


@stack.command("status")
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show each service's version, address and health; exit 1 if any is down."""
    rows = _manager(ctx).status()
    click.echo(render_table(rows))
    if not all(row.healthy for row in rows):
        ctx.exit(1)

"""``cultuurbus stack``: bring the local Kafka, schema registry and ClickHouse (and, when
asked, Prometheus) up and down, and choose what Prometheus scrapes."""

from __future__ import annotations

import shlex

import click

from bus.settings import Settings
from ops.stack.errors import StackError
from ops.stack.manager import SERVICE_NAMES, StackManager
from ops.stack.service import ServiceStatus
from ops.stack.settings import ADMIN, StackSettings

__all__ = ["stack"]


def _manager(ctx: click.Context) -> StackManager:
    # The top-level CLI may put a StackSettings on the context; else read the environment.
    settings = ctx.find_object(StackSettings) or StackSettings()
    root = ctx.find_root().obj
    return StackManager(settings, bus=root if isinstance(root, Settings) else None)


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


_WITH_PROMETHEUS = click.option(
    "--with-prometheus", is_flag=True,
    help="Also Prometheus (built from the Go module proxy on first use, minutes) and the "
         "consumer-lag exporter; `up` remembers it until `stack down`.")


@click.group("stack")
def stack() -> None:
    """Local services: Kafka (KRaft), schema registry, ClickHouse, all on 127.0.0.1.

    With `up --with-prometheus` also Prometheus, scraping the roles at their configured
    ports (see `stack targets`), and the consumer-lag exporter.
    """


@stack.command("up")
@click.option(
    "--only",
    callback=_parse_only,
    metavar="NAMES",
    help=f"Comma-separated subset of {','.join(SERVICE_NAMES)}.",
)
@_WITH_PROMETHEUS
@click.pass_context
def up(ctx: click.Context, only: list[str] | None, with_prometheus: bool) -> None:
    """Start the services (idempotent) and wait until they answer."""
    try:
        _manager(ctx).up(only, with_prometheus=with_prometheus)
    except StackError as exc:
        click.echo(f"stack up failed: {exc}", err=True)
        ctx.exit(1)


@stack.command("fetch")
@click.option("--with-prometheus", is_flag=True,
              help="Also build Prometheus from the Go module proxy (first run only, minutes).")
@click.pass_context
def fetch(ctx: click.Context, with_prometheus: bool) -> None:
    """Download the broker jars and the registry distribution (first run only)."""
    try:
        _manager(ctx).fetch(with_prometheus=with_prometheus)
    except StackError as exc:
        click.echo(f"stack fetch failed: {exc}", err=True)
        ctx.exit(1)


@stack.command("down")
@click.pass_context
def down(ctx: click.Context) -> None:
    """Stop the services this stack started (idempotent); forgets --with-prometheus."""
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


def _principal_of(role: str) -> str:
    from ops.access.principals import ROLE_PRINCIPALS

    if role in ROLE_PRINCIPALS or role == ADMIN:
        return role
    if f"cultuurbus-{role}" in ROLE_PRINCIPALS:
        return f"cultuurbus-{role}"
    short = ", ".join(p.removeprefix("cultuurbus-") for p in ROLE_PRINCIPALS)
    raise click.BadParameter(f"unknown role {role!r}; choose from {short}, {ADMIN}")


@stack.command("env")
@click.option("--role", required=True, metavar="ROLE",
              help="streams, sink, gateway, lag-exporter, ops, connector, or admin (super user).")
@click.pass_context
def env(ctx: click.Context, role: str) -> None:
    """Print `export` lines that make a role connect to this stack as its own principal.

    \b
      eval "$(cultuurbus stack env --role sink)" && cultuurbus sink clickhouse
    """  # noqa: D301 - click's \b (no rewrap) needs a real backspace
    settings = ctx.find_object(StackSettings) or StackSettings()
    try:
        principal = _principal_of(role)
    except click.BadParameter as exc:
        click.echo(f"stack env: {exc.message}", err=True)
        ctx.exit(2)
    for key, value in settings.client_env(principal).items():
        click.echo(f"export {key}={shlex.quote(value)}")


@stack.command("status")
@click.pass_context
def status(ctx: click.Context) -> None:
    """Show each service's version, address and health; exit 1 if any is down."""
    rows = _manager(ctx).status()
    click.echo(render_table(rows))
    if not all(row.healthy for row in rows):
        ctx.exit(1)


def _parse_set(_ctx: click.Context, _param: click.Parameter,
               values: tuple[str, ...]) -> dict[str, list[str]]:
    targets: dict[str, list[str]] = {}
    for value in values:
        job, sep, addresses = value.partition("=")
        if not sep or not job.strip():
            raise click.BadParameter(f"expected ROLE=HOST:PORT[,HOST:PORT...], got {value!r}")
        targets.setdefault(job.strip(), []).extend(a.strip() for a in addresses.split(",") if a.strip())
    return targets


@stack.command("targets")
@click.option("--set", "updates", multiple=True, callback=_parse_set, metavar="ROLE=HOST:PORT,...",
              help="Scrape these endpoints for ROLE (connector, streams, sink, gateway, kafka for "
                   "the lag exporter, or a new job) instead of its current ones; an empty list "
                   "(ROLE=) stops scraping it. Repeatable.")
@click.option("--reset", is_flag=True,
              help="Back to the roles' configured ports (bus settings) and the lag exporter.")
@click.pass_context
def targets(ctx: click.Context, updates: dict[str, list[str]], reset: bool) -> None:
    """Show (and change) what Prometheus scrapes, per role, with each endpoint's health.

    Changes take effect within seconds, without restarting Prometheus. Example:

    \b
      cultuurbus stack targets --set connector=127.0.0.1:8090,127.0.0.1:9401
    """  # noqa: D301 - click's \b (no rewrap) needs a real backspace
    manager = _manager(ctx)
    service = manager.prometheus
    try:
        if reset:
            service.reset_targets()
        if updates:
            service.set_targets(updates)
    except StackError as exc:
        click.echo(f"stack targets failed: {exc}", err=True)
        ctx.exit(1)
    files = service.targets()
    if not files:
        click.echo("no target files yet: start Prometheus with `cultuurbus stack up --with-prometheus`")
        return
    health = {(t.job, t.instance): t for t in service.scraped()}
    rows = []
    for job, addresses in sorted(files.items()):
        for address in addresses or ["-"]:
            t = health.get((job, address))
            state = "-" if address == "-" else (
                "(prometheus not running)" if not health else
                "pending" if t is None else
                t.health + (f": {t.last_error.rsplit(': ', 1)[-1]}" if t.last_error else ""))
            rows.append((job, address, state))
    header = ("ROLE", "TARGET", "SCRAPE")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(2)]
    for row in [header, *rows]:
        click.echo(f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}".rstrip())

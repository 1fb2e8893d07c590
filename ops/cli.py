"""The ``cultuurbus`` command: one entry point for every role.

Settings are built once here (``--config`` TOML file, ``CULTUURBUS_*`` env) and passed
down explicitly. Each role's commands are imported only when they run (:data:`ROLES`).

Perf notes: importing every role at start (Faust, FastAPI, clickhouse_connect, faker, ...)
put ~113 MB in every process before it did anything; ``import ops.cli`` is now ~40 MB,
and the gateway at 100,000 performances peaked ~58 MB lower (333 -> 275 MB,
``python -m bench.gateway_memory``).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import click

from bus.cli import CONFIG_OPTION, ClearErrors, load_root
from bus.errors import BusError
from bus.settings import Settings
from bus.topics import topic_name

__all__ = ["ROLES", "main"]

#: command -> "module:attribute" of a role's click command, imported only when that command
#: runs (or ``--help`` lists it): a role's process carries no other role's libraries.
ROLES: dict[str, str] = {
    "stack": "ops.stack.cli:stack",
    "connector": "connectors.cli:connector",
    "simulate": "connectors.simulator.cli:simulate",
    "streams": "streams.cli:streams",
    "identity": "streams.identity.cli:identity",
    "sink": "sinks.clickhouse.cli:sink",
    "report": "sinks.clickhouse.cli:report",
    "gateway": "sinks.gateway.cli:gateway",
    "catalog": "ops.catalog.cli:catalog",
    "tenant": "ops.tenants.cli:tenant",
    "access": "ops.tenants.cli:access",
    "pseudonym": "ops.stack.pseudonym:pseudonym",
}


class _Roles(ClearErrors):
    """The root group: its own commands, and each role's command loaded on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *ROLES})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = ROLES.get(name)
        if target is None:
            return super().get_command(ctx, name)
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


@click.group(cls=_Roles)
@CONFIG_OPTION
@click.pass_context
def main(ctx: click.Context, config_file: Path | None) -> None:
    """cultuurbus: near-real-time participation data for the cultural sector."""
    load_root(ctx, config_file)


def _settings(ctx: click.Context) -> Settings:
    return ctx.find_root().obj  # type: ignore[no-any-return]


# -- schemas ----------------------------------------------------------------------------
@main.group()
def schemas() -> None:
    """Register the Avro contract in the schema registry, or check a change against it."""


def _subjects(settings: Settings) -> list[tuple[str, str]]:
    from bus.serde import subject_for
    from bus.topics import CATALOG

    seen: set[str] = set()
    out = []
    for t in CATALOG:
        if t.value_schema and t.name not in seen:
            seen.add(t.name)
            out.append((subject_for(topic_name(t.name, settings.topic_prefix)), t.value_schema))
    return out


@schemas.command("register")
@click.pass_context
def schemas_register(ctx: click.Context) -> None:
    """Register every topic's value schema (BACKWARD compatibility enforced)."""
    from bus.serde import Registry
    from schemas import load_schema

    settings = _settings(ctx)
    registry = Registry(settings.registry)
    for subject, file in _subjects(settings):
        schema_id = registry.register(subject, load_schema(file))
        click.echo(f"{subject:45} {file:25} id={schema_id}")


@schemas.command("check")
@click.pass_context
def schemas_check(ctx: click.Context) -> None:
    """Check every schema file against what is registered; exit 1 on a breaking change."""
    from bus.serde import Registry
    from schemas import load_schema

    settings = _settings(ctx)
    registry = Registry(settings.registry)
    bad = []
    for subject, file in _subjects(settings):
        ok = registry.is_compatible(subject, load_schema(file))
        click.echo(f"{subject:45} {file:25} {'compatible' if ok else 'INCOMPATIBLE'}")
        if not ok:
            bad.append(subject)
    if bad:
        raise BusError(
            f"{len(bad)} schema change(s) break BACKWARD compatibility: {', '.join(bad)}. "
            "Give new fields a default, do not remove fields without defaults, "
            "or publish under a new topic/subject."
        )


# -- topics -----------------------------------------------------------------------------
@main.group()
def topics() -> None:
    """The topic catalog (bus/topics.py)."""


@topics.command("apply")
@click.pass_context
def topics_apply(ctx: click.Context) -> None:
    """Create missing topics and align configs with the catalog; idempotent."""
    from bus.kafka import make_admin
    from bus.topics import apply_catalog

    settings = _settings(ctx)
    admin = make_admin(settings.kafka)
    for change in apply_catalog(admin, settings.topic_prefix, settings.kafka.replication_factor):
        click.echo(f"{change.topic:45} {change.action:17} {change.detail}")


@topics.command("list")
@click.pass_context
def topics_list(ctx: click.Context) -> None:
    """Print the catalog: name, partitions, cleanup, key, owner, description."""
    from bus.topics import CATALOG

    prefix = _settings(ctx).topic_prefix
    for t in CATALOG:
        click.echo(f"{topic_name(t.name, prefix):45} p={t.partitions:<2} {t.cleanup_policy:8} "
                   f"owner={t.owner:10} key={t.key}\n    {t.description}")


# -- demo -------------------------------------------------------------------------------
@main.command()
@click.option("--minutes", default=3.0, show_default=True,
              help="How long the demo runs before it ends by itself.")
@click.option("--forever", is_flag=True, help="Run until Ctrl-C instead of ending after --minutes.")
@click.option("--short", is_flag=True,
              help="A small season (24 performances) delivered at full speed; ends as soon as the "
                   "bus matches the ground truth (what CI runs).")
@click.option("--seed", default=42, show_default=True, help="Simulator seed (same seed, same season).")
@click.option("--performances", default=60, show_default=True, help="Performances in the season.")
@click.option("--pace", type=click.FloatRange(min=0.1), default=None,
              help="Facts per second the simulator sends. [default: the pace that delivers the "
                   "season within 70% of --minutes, so the demo can compare it with the ground "
                   "truth before it ends; 40 with --forever]")
@click.option("--keep-stack", is_flag=True,
              help="Leave the local stack running afterwards (a stack that was already running is "
                   "always left running).")
@click.option("--no-prometheus", is_flag=True,
              help="Do not build or start Prometheus and the consumer-lag exporter.")
@click.pass_context
def demo(ctx: click.Context, minutes: float, forever: bool, short: bool, seed: int, performances: int,
         pace: float | None, keep_stack: bool, no_prometheus: bool) -> None:
    """Watch a season sell: stack, roles, simulator, live table, then the reports.

    \b
    1. starts the local stack (Kafka, registry, ClickHouse) and Prometheus with the
       consumer-lag exporter (built from the Go module proxy on first use);
    2. creates the topics and registers the schemas;
    3. starts the streams worker, the ClickHouse sink, the gateway and the webhook
       receiver as their own processes, and points Prometheus at them;
    4. plays the simulator's season through the real connectors and shows a live table
       of performances (sold, seats left, status) from the availability topic.

    It ends by itself after --minutes (or runs on with --forever), compares the bus's
    final availability with the simulator's ground truth, prints the sales and audience
    monitors from ClickHouse once the sink has caught up, and stops what it started (a
    stack that was already running is left running). Exit code 1 when availability or
    ClickHouse's sales differ from the ground truth, or a role failed.

    Ports come from the settings: the stack's CULTUURBUS_STACK_* (e.g.
    CULTUURBUS_STACK_PROMETHEUS_PORT) and the roles' (CULTUURBUS_GATEWAY__PORT,
    CULTUURBUS_STREAMS__WEB_PORT, CULTUURBUS_SINK__METRICS_PORT,
    CULTUURBUS_CONNECTOR__HTTP_PORT).
    """  # noqa: D301 - click's \b (no rewrap) needs a real backspace
    from ops.demo import DemoOptions, run_demo

    code = run_demo(_settings(ctx), DemoOptions(
        minutes=minutes, forever=forever, short=short, seed=seed, performances=performances, pace=pace,
        keep_stack=keep_stack, prometheus=not no_prometheus))
    sys.exit(code)


if __name__ == "__main__":
    main()

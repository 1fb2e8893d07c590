"""``cultuurbus connector <kind>``: every connector kind, loaded on demand so one
kind's dependencies never slow another's start-up."""

from __future__ import annotations

import importlib

import click

from bus.settings import Settings

__all__ = ["connector"]

#: kind -> "module:attribute" of its click command.
KINDS: dict[str, str] = {
    "webhook": "connectors.ticketing.webhook.cli:command",
    "eventstream": "connectors.ticketing.eventstream.cli:command",
    "dip": "connectors.ticketing.dip.cli:command",
    "file": "connectors.ticketing.csvfile.cli:command",
    "uitdatabank": "connectors.calendar.uitdatabank.cli:command",
    "ical": "connectors.calendar.ical.cli:command",
    "schemaorg": "connectors.calendar.schemaorg.cli:command",
}


class _Lazy(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(KINDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = KINDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)  # type: ignore[no-any-return]


@click.group(cls=_Lazy)
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Port of /metrics and /healthz (default: connector.metrics_port, 9401; "
                   "0: any free). Two connectors on one host need two ports.")
@click.pass_context
def connector(ctx: click.Context, metrics_port: int | None) -> None:
    """Run a source connector next to a ticketing system or calendar."""
    root = ctx.find_root()
    if metrics_port is not None and isinstance(root.obj, Settings):
        root.obj = root.obj.model_copy(update={
            "connector": root.obj.connector.model_copy(update={"metrics_port": metrics_port})})

"""``cultuurbus connector <kind>``: every connector kind, loaded on demand so one
kind's dependencies never slow another's start-up."""

from __future__ import annotations

import importlib

import click

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
def connector() -> None:
    """Run a source connector next to a ticketing system or calendar."""

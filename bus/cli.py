"""What every command-line entry point shares: a bus error is one clear line, not a traceback,
and the settings of the whole run are loaded once, at the root group."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bus.errors import BusError
from bus.log import configure_logging
from bus.settings import load_settings

__all__ = ["CONFIG_OPTION", "ClearErrors", "load_root"]

#: The ``--config`` option of a root group.
CONFIG_OPTION = click.option(
    "--config", "config_file", type=click.Path(path_type=Path), default=None,
    help="TOML settings file (default: $CULTUURBUS_CONFIG_FILE or ./cultuurbus.toml).")


class ClearErrors(click.Group):
    """Turns a ``BusError`` into one clear line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BusError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


def load_root(ctx: click.Context, config_file: Path | None) -> None:
    """Load the settings (file, environment, defaults), configure logging, keep them in ``ctx.obj``."""
    settings = load_settings(config_file)
    configure_logging(settings.log_level, settings.log_format)
    ctx.obj = settings

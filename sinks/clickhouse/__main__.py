"""``python -m sinks.clickhouse sink clickhouse|migrate`` and ``... report ...`` on their own
(the same commands as under ``cultuurbus``), for subprocess tests and small deployments.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bus.errors import BusError
from bus.log import configure_logging
from bus.settings import load_settings
from sinks.clickhouse.cli import report, sink


class _Root(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BusError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Root)
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="TOML settings file (default: $CULTUURBUS_CONFIG_FILE or ./cultuurbus.toml).")
@click.pass_context
def main(ctx: click.Context, config_file: Path | None) -> None:
    """The ClickHouse sink and reports of cultuurbus."""
    settings = load_settings(config_file)
    configure_logging(settings.log_level, settings.log_format)
    ctx.obj = settings


main.add_command(sink)
main.add_command(report)

if __name__ == "__main__":
    main()

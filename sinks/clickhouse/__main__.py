"""``python -m sinks.clickhouse sink clickhouse|migrate`` and ``... report ...`` on their own
(the same commands as under ``cultuurbus``), for subprocess tests and small deployments.
"""

from __future__ import annotations

from pathlib import Path

import click

from bus.cli import CONFIG_OPTION, ClearErrors, load_root
from sinks.clickhouse.cli import report, sink


@click.group(cls=ClearErrors)
@CONFIG_OPTION
@click.pass_context
def main(ctx: click.Context, config_file: Path | None) -> None:
    """The ClickHouse sink and reports of cultuurbus."""
    load_root(ctx, config_file)


main.add_command(sink)
main.add_command(report)

if __name__ == "__main__":
    main()

"""``cultuurbus connector file``: import box-office CSV exports."""

from __future__ import annotations

import sys
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from connectors.sdk.cli import name_option, settings_of, ticket_type_map
from connectors.sdk.context import ConnectorContext
from connectors.sdk.identifiers import IdFields
from connectors.ticketing.csvfile.columns import normalise
from connectors.ticketing.csvfile.importer import CsvImporter
from connectors.ticketing.csvfile.mapping import ID_COLUMNS, RowEnv

__all__ = ["command"]


@click.command("file")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--venue", required=True, help="The venue (account) the export comes from.")
@click.option("--format", "fmt", type=click.Choice(["boxoffice"]), default="boxoffice",
              show_default=True, help="Export layout (columns in English or Dutch).")
@click.option("--encoding", default="utf-8", show_default=True,
              help="File encoding (cp1252 for older Windows exports; a UTF-8 BOM is skipped).")
@click.option("--delimiter", default=None, help="Field delimiter. [default: sniffed: ; , or tab]")
@click.option("--timezone", "tz", default="Europe/Amsterdam", show_default=True,
              help="Zone of dates written without an offset.")
@click.option("--currency", default="EUR", show_default=True)
@click.option("--ticket-type", "ticket_types", multiple=True, metavar="LABEL=TYPE",
              help="Map a price type label to NORMAL, DISCOUNT, FREE or OTHER. Repeatable.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=1000, show_default=True,
              help="Rows per Kafka acknowledgement and checkpoint.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr. [default: when stderr is a terminal]")
@name_option("file")
@click.option("--id-field", "id_fields", multiple=True, metavar="NS=COLUMN",
              help="A column holding a sector id, by its header: dip=COLUMN ('<production>|"
                   "<number>'), uit=COLUMN (uuid, uuid#n, a UiT URL, or the event id matched on "
                   "the performance start). Repeatable; columns named dip_id/dip or uit_id/uit "
                   "are read without it.")
def command(paths: tuple[Path, ...], venue: str, fmt: str, encoding: str, delimiter: str | None,
            tz: str, currency: str, ticket_types: tuple[str, ...], batch_size: int,
            progress: bool | None, name: str, id_fields: tuple[str, ...]) -> None:
    """Import box-office CSV exports (one ticket event per row: sale, refund, cancel, scan).

    Importing the same file twice publishes nothing; a re-export with rows appended
    publishes only the new rows; an interrupted import resumes after the last batch
    Kafka acknowledged. Bad rows go to ticketing.events.dlq and the import goes on.
    Prints one summary line per file.
    """
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {tz!r}", param_hint="--timezone") from None
    id_columns = {normalise(column): f"{ns}_id" for ns, column in IdFields.parse(id_fields).fields}
    settings = settings_of(click.get_current_context())
    ctx = ConnectorContext(settings, name, serve_metrics=False).open()
    try:
        types = ticket_type_map(ticket_types, "--ticket-type", "LABEL", split=str.rpartition,
                                normal=normalise)
        env = RowEnv(venue, ctx.pseudonymiser, zone, currency, types,
                     window=ctx.window, id_fields=ID_COLUMNS.counting(ctx.metrics_registry, name))
        importer = CsvImporter(ctx.publisher, ctx.positions, env, encoding=encoding,
                               delimiter=delimiter, batch_size=batch_size,
                               progress=sys.stderr.isatty() if progress is None else progress,
                               id_columns=id_columns)
        for path in paths:
            click.echo(importer.import_file(path).line())
    finally:
        ctx.close()


if __name__ == "__main__":  # pragma: no cover
    command()

"""Importing one box-office export: resume where the ledger says, map every row, publish
in batches, save a checkpoint after each batch Kafka acknowledged, summarise.

A bad row (unknown action, unparseable date, negative price, a row that does not line
up with the header, undecodable bytes, a line the CSV reader refuses) goes to
``ticketing.events.dlq`` with the row's bytes (personal columns masked; every field
when its columns cannot be told apart) and ``<file> line <n>`` as its position; the
import goes on. A header the import cannot read stops it before anything is published.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError
from tqdm import tqdm

from bus.errors import BusError
from bus.log import get_logger
from bus.topics import TICKET_EVENTS
from connectors.sdk.errors import MappingError
from connectors.sdk.positions import PositionStore
from connectors.sdk.publisher import Publisher
from connectors.sdk.records import DeadLetter, SourceRecord
from connectors.ticketing.csvfile.columns import HeaderError, map_header
from connectors.ticketing.csvfile.ledger import Entry, Ledger
from connectors.ticketing.csvfile.mapping import RowEnv, map_row, redacted_row
from connectors.ticketing.csvfile.reader import CsvReader, Row

__all__ = ["CsvImporter", "ExportFormatError", "Summary"]

log = get_logger(__name__)


class ExportFormatError(BusError):
    """The file cannot be read as a box-office export (its header); nothing was published."""


@dataclass
class Summary:
    """What one import did."""

    file: str
    rows_read: int = 0
    published: int = 0
    dead_lettered: int = 0
    skipped: int = 0  # rows already imported earlier
    whole_file_skipped: bool = False
    seconds: float = 0.0

    def line(self) -> str:
        rate = (f", {self.published / self.seconds:,.0f} facts/s"
                if self.seconds > 0 and self.published else "")
        note = " (same file imported before)" if self.whole_file_skipped else ""
        return (f"{self.file}: {self.rows_read} rows read, {self.published} published, "
                f"{self.dead_lettered} dead-lettered, {self.skipped} skipped as already "
                f"imported{note}{rate}")


class CsvImporter:
    """Lifecycle: built around an opened connector's publisher and positions;
    ``import_file`` per file; nothing to close.

    Args:
        publisher: publishes and waits for Kafka's acks.
        positions: where the venue's ledger lives.
        env: mapping configuration (venue, pseudonymiser, time zone, ticket types).
        encoding: of the files.
        delimiter: forced delimiter (sniffed when ``None``).
        batch_size: rows per publish and checkpoint.
        progress: show a progress bar (tqdm) on stderr.

    """

    def __init__(self, publisher: Publisher, positions: PositionStore, env: RowEnv, *,
                 encoding: str = "utf-8", delimiter: str | None = None, batch_size: int = 1000,
                 progress: bool = False, id_columns: Mapping[str, str] | None = None) -> None:
        self.publisher = publisher
        #: header label (normalised) -> the sector id column it is (``uit_id``, ``dip_id``)
        self.id_columns = dict(id_columns or {})
        self.positions = positions
        self.env = env
        self.encoding = encoding
        self.delimiter = delimiter
        self.batch_size = batch_size
        self.progress = progress
        self.source_partition = f"boxoffice:{env.venue}"

    def _item(self, row: Row, columns: list[str | None], reader: CsvReader,
              name: str) -> SourceRecord | DeadLetter:
        values, letter_columns = row.values, columns
        try:
            if row.error is not None:
                # Its columns cannot be told apart: every field is masked in the letter.
                values = row.raw.decode(reader.encoding, "replace").rstrip("\r\n").split(
                    reader.delimiter)
                letter_columns = []
                raise MappingError(f"{row.error}; fix the line or pass --delimiter", field="row")
            if not row.decoded:
                raise MappingError(f"row has bytes that are not valid {reader.encoding}; "
                                   "pass --encoding", field="row")
            try:
                fact = map_row(row.values, columns, self.env)
            except ValidationError as exc:
                raise MappingError.unsatisfied(exc, "row's fact") from exc
        except MappingError as exc:
            return DeadLetter(TICKET_EVENTS, redacted_row(values, letter_columns, reader.delimiter),
                              exc, where=f"{name} line {row.line}")
        return SourceRecord(TICKET_EVENTS, fact.performance_key, fact)

    def import_file(self, path: Path) -> Summary:
        """Import ``path``; returns what happened.

        Raises:
            ExportFormatError: the header cannot be read (nothing published).
            DeliveryError: Kafka did not acknowledge a batch (rerun: it resumes after the
                last acknowledged batch).

        """
        t0 = time.monotonic()
        summary = Summary(path.name)
        ledger = Ledger.from_position(self.positions.get(self.source_partition))
        resume = ledger.resume(path)
        if resume.skip_file:
            summary.skipped, summary.whole_file_skipped = resume.rows, True
            summary.rows_read = resume.rows
            return summary
        with CsvReader(path, self.encoding, self.delimiter) as reader, tqdm(
                total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name,
                disable=not self.progress, file=sys.stderr, leave=False) as bar:
            try:
                if reader.header_error is not None:
                    raise HeaderError(f"{reader.header_error}; check the file and --delimiter")
                columns = map_header(reader.header, self.id_columns)
            except HeaderError as exc:
                raise ExportFormatError(f"{path}: {exc}") from exc
            batch: list[SourceRecord | DeadLetter] = []
            safe = (reader.header_end, *reader.checkpoint()[1:], 0)  # (bytes, sha, rows)
            last: Entry | None = None
            shown = 0

            def flush(final: bool) -> None:
                nonlocal batch, ledger, last, shown
                self.publisher.publish(batch)
                summary.published += sum(isinstance(i, SourceRecord) for i in batch)
                summary.dead_lettered += sum(isinstance(i, DeadLetter) for i in batch)
                batch = []
                entry = Ledger.entry(path.name, safe[0], safe[1], safe[2],
                                     resume.sha256 if final else None,
                                     summary.rows_read if final else None)
                ledger = ledger.record(entry, replaces=last)
                self.positions.save(self.source_partition, ledger.to_position())
                last = entry
                bar.update(reader.checkpoint()[0] - shown)
                shown = reader.checkpoint()[0]

            for row in reader.rows():
                summary.rows_read += 1
                if row.end <= resume.offset:
                    summary.skipped += 1
                else:
                    batch.append(self._item(row, columns, reader, path.name))
                if row.raw.endswith(b"\n"):
                    safe = (*reader.checkpoint(), summary.rows_read)
                if len(batch) >= self.batch_size:
                    flush(final=False)
            flush(final=True)
        summary.seconds = time.monotonic() - t0
        log.info("export imported", extra={"file": str(path), "rows": summary.rows_read,
                                           "published": summary.published,
                                           "dead_lettered": summary.dead_lettered,
                                           "skipped": summary.skipped})
        return summary

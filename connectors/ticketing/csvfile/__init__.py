"""Box-office CSV export import: one ticket event per row, idempotent per file and per
appended re-export, resumable after a crash.
"""

from connectors.ticketing.csvfile.importer import CsvImporter, ExportFormatError, Summary
from connectors.ticketing.csvfile.ledger import Entry, Ledger
from connectors.ticketing.csvfile.mapping import RowEnv, map_row
from connectors.ticketing.csvfile.reader import CsvReader, Row

__all__ = ["CsvImporter", "CsvReader", "Entry", "ExportFormatError", "Ledger", "Row", "RowEnv",
           "Summary", "map_row"]

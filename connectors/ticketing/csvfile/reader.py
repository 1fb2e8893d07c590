"""Reading a CSV export row by row with each row's original bytes, line number and byte
offset, so that a bad row can be dead-lettered as it was and an import can record
exactly how far it got.

The stdlib ``csv`` reader pulls one physical line at a time from the iterator it is
given and returns a record as soon as one is complete, so the lines pulled since the
previous record are exactly the current record's bytes (quoted fields spanning lines
included). The delimiter is sniffed from the header (``;`` from Dutch Excel, ``,``
or tab); a UTF-8 byte order mark is skipped. A line that does not decode is kept with
replacement characters and flagged, so the row is dead-lettered instead of crashing;
so is a record the ``csv`` module refuses (a bare carriage return inside a line, a
field over ``csv.field_size_limit()``): it becomes a row with no values and the
reason in ``Row.error``, and reading goes on with the next line.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

__all__ = ["CsvReader", "Row", "prefix_digests"]

_BOM = codecs.BOM_UTF8


@dataclass(frozen=True)
class Row:
    """One record of the file."""

    line: int  # 1-based number of the record's first physical line
    values: list[str]
    raw: bytes  # the record's bytes as in the file, line ending included
    end: int  # byte offset just after the record
    decoded: bool = True  # False when a line was not valid in the file's encoding
    error: str | None = None  # why the record could not be read as CSV (values empty)


def prefix_digests(path: Path, offsets: set[int]) -> tuple[str, dict[int, str]]:
    """SHA-256 of the whole file and of its first ``n`` bytes for each ``n`` in ``offsets``."""
    whole = hashlib.sha256()
    out: dict[int, str] = {}
    wanted = sorted(o for o in offsets if o > 0)
    pos = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            while wanted and wanted[0] <= pos + len(chunk):
                cut = wanted.pop(0) - pos
                whole.update(chunk[:cut])
                out[pos + cut] = whole.hexdigest()
                chunk, pos = chunk[cut:], pos + cut
            whole.update(chunk)
            pos += len(chunk)
    return whole.hexdigest(), out


def _sniff(header: str) -> str:
    counts = {d: header.count(d) for d in (";", ",", "\t", "|")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


class CsvReader:
    """Lifecycle: a context manager; ``header`` is read on entry; ``rows()`` once.

    Args:
        path: the file.
        encoding: of the file (``utf-8`` default; ``cp1252`` for older Windows exports).
        delimiter: forced delimiter; sniffed from the header when ``None``.

    """

    def __init__(self, path: Path, encoding: str = "utf-8", delimiter: str | None = None) -> None:
        self.path = path
        self.encoding = "utf-8" if encoding.lower().replace("_", "-") == "utf-8-sig" else encoding
        self._forced = delimiter
        self.delimiter = delimiter or ","
        self.header: list[str] = []
        self.header_end = 0
        self._file: IO[bytes] | None = None
        self._pending: list[bytes] = []
        self._pos = 0
        self._lines = 0
        self._bad_line = False
        self._hash = hashlib.sha256()

    def __enter__(self) -> CsvReader:
        self._file = self.path.open("rb")
        first = self._file.readline()
        self._hash.update(first)
        self._pos = len(first)
        self._lines = 1 if first else 0
        text = first[len(_BOM):] if first.startswith(_BOM) else first
        header_text = text.decode(self.encoding, errors="replace")
        self.delimiter = self._forced or _sniff(header_text)
        self.header_error: str | None = None
        try:
            self.header = next(csv.reader([header_text], delimiter=self.delimiter), [])
        except csv.Error as exc:
            self.header, self.header_error = [], f"the header line is not CSV: {exc}"
        self.header = [h.strip() for h in self.header]
        self.header_end = self._pos
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._file is not None:
            self._file.close()

    def _lines_iter(self) -> Iterator[str]:
        assert self._file is not None
        for raw in self._file:
            self._pending.append(raw)
            self._hash.update(raw)
            self._pos += len(raw)
            self._lines += 1
            try:
                yield raw.decode(self.encoding)
            except UnicodeDecodeError:
                self._bad_line = True
                yield raw.decode(self.encoding, errors="replace")

    def checkpoint(self) -> tuple[int, str]:
        """Bytes read so far and their SHA-256; right after a row is yielded, that is
        exactly the file up to the end of that row."""
        return self._pos, self._hash.hexdigest()

    def rows(self) -> Iterator[Row]:
        """Every non-blank record after the header, in file order."""
        reader = csv.reader(self._lines_iter(), delimiter=self.delimiter)
        start_line = self._lines + 1
        while True:
            error = None
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # the reader starts afresh at the next line
                values, error = [], f"line is not CSV: {exc}"
            raw = b"".join(self._pending)
            self._pending.clear()
            decoded = not self._bad_line
            self._bad_line = False
            line, start_line = start_line, self._lines + 1
            if error is None and (not values or all(not v.strip() for v in values)):
                continue
            yield Row(line, values, raw, self._pos, decoded, error)

"""Which exports (and which part of them) a venue already imported, kept as the
connector's position (``connect.positions``, source partition ``boxoffice:<venue>``).

Each import leaves one entry: the first ``prefix_bytes`` bytes of the file (always
ending at the end of a row), their SHA-256, how many rows they hold, and, once the
whole file is done, the SHA-256 of the whole file. With that:

* the same file again: its SHA-256 matches a complete entry -> nothing is read;
* a re-export with more rows appended: its first ``prefix_bytes`` hash the same as an
  earlier entry -> those rows are skipped, only the new ones are published;
* an import that crashed half-way: its last saved checkpoint is such a prefix -> it
  resumes after the last batch Kafka acknowledged.

Anything else (a re-sorted or edited export) is imported in full; its rows keep their
fact ids (venue + order + ticket + action), so downstream counts each once. This keeps
the position small (one entry per export, at most ``MAX_ENTRIES``), unlike a set of
every fact id seen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.ticketing.csvfile.reader import prefix_digests

__all__ = ["MAX_ENTRIES", "Entry", "Ledger", "Resume"]

MAX_ENTRIES = 200


@dataclass(frozen=True)
class Entry:
    """How much of one export was imported."""

    name: str
    prefix_bytes: int
    prefix_sha256: str
    rows: int
    sha256: str | None = None  # of the whole file, once complete
    total_rows: int | None = None
    at: str = ""

    @property
    def complete(self) -> bool:
        return self.sha256 is not None


@dataclass(frozen=True)
class Resume:
    """Where an import of a file starts."""

    sha256: str  # of the whole file
    skip_file: bool  # the very same file was imported completely
    offset: int  # bytes already imported (0: none)
    rows: int  # rows in those bytes
    matched: Entry | None = None


class Ledger:
    """The imported exports of one venue.

    Args:
        entries: oldest first.

    """

    def __init__(self, entries: list[Entry] | None = None) -> None:
        self.entries = list(entries or [])

    @classmethod
    def from_position(cls, position: dict[str, Any] | None) -> Ledger:
        raw = (position or {}).get("files", [])
        return cls([Entry(**e) for e in raw if isinstance(e, dict)])

    def to_position(self) -> dict[str, Any]:
        return {"files": [asdict(e) for e in self.entries[-MAX_ENTRIES:]]}

    def resume(self, path: Path) -> Resume:
        """Where to start importing ``path``, given what was imported before."""
        whole, prefixes = prefix_digests(path, {e.prefix_bytes for e in self.entries})
        for e in reversed(self.entries):
            if e.sha256 == whole:
                return Resume(whole, True, e.prefix_bytes, e.total_rows or e.rows, e)
        best: Entry | None = None
        for e in self.entries:
            if prefixes.get(e.prefix_bytes) == e.prefix_sha256 and (
                    best is None or e.prefix_bytes > best.prefix_bytes):
                best = e
        if best is None:
            return Resume(whole, False, 0, 0)
        return Resume(whole, False, best.prefix_bytes, best.rows, best)

    def record(self, entry: Entry, replaces: Entry | None = None) -> Ledger:
        """A ledger with ``entry`` added and ``replaces`` (the previous checkpoint of the
        same import) dropped; the oldest entries go beyond ``MAX_ENTRIES``."""
        kept = [e for e in self.entries if replaces is None or e != replaces]
        kept.append(entry)
        return Ledger(kept[-MAX_ENTRIES:])

    @staticmethod
    def entry(name: str, prefix_bytes: int, prefix_sha256: str, rows: int,
              sha256: str | None = None, total_rows: int | None = None) -> Entry:
        return Entry(name, prefix_bytes, prefix_sha256, rows, sha256, total_rows,
                     datetime.now(UTC).isoformat(timespec="seconds"))

"""Versioned DDL migrations: ``migrations/NNN_name.sql`` applied in order, once.

Applied migrations are recorded in ``schema_migrations`` (version, name, applied_at,
checksum). Running again is a no-op; a migration whose file changed after it was
applied, or a version the database has but the code does not, stops the run with a
message saying what to do. Statements use unqualified table names: they land in the
client's database.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from bus.log import get_logger
from sinks.clickhouse.errors import MigrationError

__all__ = [
    "MIGRATIONS_TABLE",
    "AppliedMigration",
    "Migration",
    "applied_migrations",
    "load_migrations",
    "migrate",
    "pending_migrations",
    "split_statements",
]

log = get_logger("sinks.clickhouse.migrate")

MIGRATIONS_TABLE = "schema_migrations"
_FILE = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")
_STATEMENT_END = re.compile(r";\s*$", re.MULTILINE)

_BOOTSTRAP = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE}
(
    version UInt32,
    name String,
    applied_at DateTime64(3, 'UTC'),
    checksum String
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
"""


_APPLIED = ("SELECT version, name, applied_at, checksum FROM schema_migrations FINAL "
            "ORDER BY version")


@dataclass(frozen=True)
class Migration:
    """One migration file: ``NNN_name.sql``."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file text with line endings normalised."""
        return hashlib.sha256(self.sql.replace("\r\n", "\n").encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.version:03d}_{self.name}"

    def statements(self) -> list[str]:
        return split_statements(self.sql)


@dataclass(frozen=True)
class AppliedMigration:
    """A row of ``schema_migrations``."""

    version: int
    name: str
    applied_at: datetime
    checksum: str


def split_statements(sql: str) -> list[str]:
    """Statements of a migration: split at ``;`` ending a line, ``--`` comment lines dropped."""
    body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in _STATEMENT_END.split(body) if s.strip()]


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """The migration files of ``directory`` (default: this package's ``migrations/``), in order.

    Raises:
        MigrationError: a file name does not follow ``NNN_name.sql`` or two share a version.

    """
    files: Iterable[Any]
    if directory is None:
        files = resources.files("sinks.clickhouse").joinpath("migrations").iterdir()
    else:
        files = directory.iterdir()
    found: dict[int, Migration] = {}
    for f in files:
        if not f.name.endswith(".sql"):
            continue
        m = _FILE.match(f.name)
        if m is None:
            raise MigrationError(f"migration file {f.name!r} is not named NNN_name.sql "
                                 "(three or more digits, lower-case name); rename it")
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"migrations {found[version].label}.sql and {f.name} share "
                                 f"version {version}; give the newer one the next free number")
        found[version] = Migration(version, m.group(2), f.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def applied_migrations(client: Any) -> dict[int, AppliedMigration]:
    """What ``schema_migrations`` records (created when missing)."""
    client.command(_BOOTSTRAP)
    rows = client.query(_APPLIED).result_rows
    return {int(r[0]): AppliedMigration(int(r[0]), str(r[1]), r[2], str(r[3])) for r in rows}


def pending_migrations(migrations: Sequence[Migration],
                       applied: dict[int, AppliedMigration]) -> list[Migration]:
    """The migrations still to apply, after checking the applied ones are untouched.

    Raises:
        MigrationError: an applied migration's file changed, or the database has a
            version this code does not know.

    """
    known = {m.version: m for m in migrations}
    for version, done in sorted(applied.items()):
        mine = known.get(version)
        if mine is None:
            raise MigrationError(
                f"the database has migration {version:03d}_{done.name} which this code does not "
                "know: it was written by a newer cultuurbus; upgrade this one before starting it")
        if mine.checksum != done.checksum:
            raise MigrationError(
                f"migration {mine.label}.sql changed after it was applied on "
                f"{done.applied_at:%Y-%m-%d %H:%M} (checksum {done.checksum[:12]} in the database, "
                f"{mine.checksum[:12]} in the file); restore the file as it was and put the "
                "change in a new migration with the next number")
    return [m for m in migrations if m.version not in applied]


def migrate(client: Any, migrations: Sequence[Migration] | None = None) -> list[Migration]:
    """Apply the pending migrations in order; returns those applied now.

    Idempotent: DDL is written ``IF NOT EXISTS`` so a run interrupted half-way can be
    repeated, and a migration is recorded only after all its statements succeeded.

    Raises:
        MigrationError: see :func:`pending_migrations`, or a statement failed (the
            message names the migration and the statement).

    """
    migrations = list(load_migrations() if migrations is None else migrations)
    todo = pending_migrations(migrations, applied_migrations(client))
    for m in todo:
        for i, stmt in enumerate(m.statements(), 1):
            try:
                client.command(stmt)
            except Exception as exc:
                raise MigrationError(f"migration {m.label}.sql statement {i} failed: {exc}; fix the "
                                     "database or the file (if it was never applied) and run "
                                     "`cultuurbus sink migrate` again") from exc
        client.insert(MIGRATIONS_TABLE, [[m.version, m.name, datetime.now(UTC), m.checksum]],
                      column_names=["version", "name", "applied_at", "checksum"])
        log.info("migration applied", extra={"migration": m.label})
    return todo

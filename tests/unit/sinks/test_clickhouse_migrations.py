"""Migration files: naming, order, statements, checksums and what a changed file does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sinks.clickhouse.errors import MigrationError
from sinks.clickhouse.migrate import (
    AppliedMigration,
    Migration,
    load_migrations,
    pending_migrations,
    split_statements,
)
from sinks.clickhouse.rows import COLUMNS


def _applied(m: Migration, checksum: str | None = None) -> AppliedMigration:
    return AppliedMigration(m.version, m.name, datetime(2025, 1, 1, tzinfo=UTC), checksum or m.checksum)


def test_packaged_migrations_are_numbered_in_order_without_gaps() -> None:
    migrations = load_migrations()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert all(m.statements() for m in migrations)


def test_every_table_the_sink_writes_is_created_by_a_migration() -> None:
    ddl = "\n".join(m.sql for m in load_migrations())
    for table, columns in COLUMNS.items():
        assert f"CREATE TABLE IF NOT EXISTS {table}" in ddl, table
        for column in columns:
            assert f"\n    {column} " in ddl, f"{table}.{column}"


def test_ddl_is_idempotent_and_written_for_the_clients_database() -> None:
    for m in load_migrations():
        for stmt in m.statements():
            assert "IF NOT EXISTS" in stmt, f"{m.label}: {stmt[:60]}"
            assert "cultuurbus." not in stmt  # unqualified: lands in the configured database


def test_split_statements_drops_comment_lines_and_splits_at_line_end_semicolons() -> None:
    sql = "-- a comment; with a semicolon\nCREATE TABLE a (x String) ENGINE = Memory;\n\n" \
          "CREATE VIEW v AS SELECT ';' AS s\nFROM a;\n"
    assert split_statements(sql) == ["CREATE TABLE a (x String) ENGINE = Memory",
                                     "CREATE VIEW v AS SELECT ';' AS s\nFROM a"]


def test_checksum_ignores_line_ending_style_but_not_content() -> None:
    a = Migration(1, "x", "CREATE TABLE t (a String);\n")
    assert a.checksum == Migration(1, "x", "CREATE TABLE t (a String);\r\n").checksum
    assert a.checksum != Migration(1, "x", "CREATE TABLE t (a UInt8);\n").checksum


def test_fresh_database_gets_every_migration_and_an_up_to_date_one_none() -> None:
    migrations = load_migrations()
    assert pending_migrations(migrations, {}) == migrations
    done = {m.version: _applied(m) for m in migrations}
    assert pending_migrations(migrations, done) == []
    partly = {m.version: _applied(m) for m in migrations[:1]}
    assert pending_migrations(migrations, partly) == migrations[1:]


def test_a_migration_changed_after_it_was_applied_stops_the_run_with_a_clear_message() -> None:
    migrations = load_migrations()
    done = {m.version: _applied(m) for m in migrations}
    first = migrations[0]
    done[first.version] = _applied(first, checksum="0" * 64)
    with pytest.raises(MigrationError) as err:
        pending_migrations(migrations, done)
    msg = str(err.value)
    assert f"{first.label}.sql changed after it was applied" in msg
    assert "new migration" in msg


def test_a_version_unknown_to_this_code_stops_the_run() -> None:
    migrations = load_migrations()
    done = {m.version: _applied(m) for m in migrations}
    done[99] = AppliedMigration(99, "future", datetime(2025, 1, 1, tzinfo=UTC), "f" * 64)
    with pytest.raises(MigrationError, match="newer cultuurbus"):
        pending_migrations(migrations, done)


def test_badly_named_or_duplicate_migration_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "001_init.sql").write_text("SELECT 1;")
    (tmp_path / "README.txt").write_text("ignored")
    assert [m.label for m in load_migrations(tmp_path)] == ["001_init"]
    (tmp_path / "002-Bad Name.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNN_name.sql"):
        load_migrations(tmp_path)
    (tmp_path / "002-Bad Name.sql").unlink()
    (tmp_path / "0001_again.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="share version 1"):
        load_migrations(tmp_path)

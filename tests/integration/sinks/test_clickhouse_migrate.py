"""Migrations on the real server and in the embedded engine, through the CLI too."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bus.settings import ClickHouseSettings, Settings
from sinks.clickhouse.connect import connect_clickhouse
from sinks.clickhouse.errors import MigrationError
from sinks.clickhouse.migrate import applied_migrations, load_migrations, migrate
from tests.support import REPO_ROOT

pytestmark = pytest.mark.integration


def test_migrations_apply_once_and_a_changed_one_is_refused(bus_settings: Settings,
                                                            cleanup: list[Settings]) -> None:
    s = bus_settings.model_copy(update={"clickhouse": ClickHouseSettings(
        url=bus_settings.clickhouse.url, database=f"mig_{uuid.uuid4().hex[:8]}")})
    cleanup.append(s)
    client = connect_clickhouse(s.clickhouse)
    files = load_migrations()
    assert [m.label for m in migrate(client)] == [m.label for m in files]
    assert migrate(client) == []  # idempotent
    done = applied_migrations(client)
    assert {v: a.checksum for v, a in done.items()} == {m.version: m.checksum for m in files}
    tables = {r[0] for r in client.query("SHOW TABLES").result_rows}
    assert {"ticket_facts", "performances", "availability_current", "sales_movements"} <= tables
    # someone edits migration 1 after it ran: the database remembers the old checksum
    client.insert("schema_migrations", [[1, files[0].name, datetime.now(UTC) + timedelta(seconds=1),
                                         "0" * 64]],
                  column_names=["version", "name", "applied_at", "checksum"])
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(client)
    client.close()


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
    env.update({"PYTHONPATH": str(REPO_ROOT), "CULTUURBUS_CONFIG_FILE": os.devnull,
                "CULTUURBUS_LOG_FORMAT": "text"})
    return subprocess.run([sys.executable, "-m", "sinks.clickhouse", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180, check=False)


def test_migrate_cli_works_on_a_relative_embedded_path(tmp_path: Path) -> None:
    first = _cli(tmp_path, "sink", "migrate", "--clickhouse-url", "chdb://.stack/clickhouse-embedded")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "applied 001_raw_facts" in first.stdout
    assert (tmp_path / ".stack" / "clickhouse-embedded").is_dir()
    again = _cli(tmp_path, "sink", "migrate", "--clickhouse-url", "chdb://.stack/clickhouse-embedded")
    assert again.returncode == 0 and "up to date" in again.stdout, again.stderr[-2000:]
    status = _cli(tmp_path, "sink", "migrate", "--status", "--clickhouse-url",
                  "chdb://.stack/clickhouse-embedded")
    assert status.stdout.count("applied") == len(load_migrations()), status.stdout


def test_a_report_on_a_database_without_the_sink_tables_says_what_to_run(tmp_path: Path) -> None:
    out = _cli(tmp_path, "report", "audience", "--operator", "--clickhouse-url", f"chdb://{tmp_path}/empty")
    assert out.returncode == 1
    assert "cultuurbus sink migrate" in out.stderr and "Traceback" not in out.stderr, out.stderr[-2000:]

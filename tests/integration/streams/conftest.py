from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bus.settings import Settings
from bus.topics import PERFORMANCES, SNAPSHOTS, TICKET_EVENTS
from ops.access.principals import CONNECTOR

from .harness import REPO, Raw, env_for, fresh, read_raw

SEASON = ["--seed", "7", "--venues", "6", "--productions", "8", "--performances", "24"]


@dataclass
class Season:
    truth: dict[str, Any]
    calendar: list[Raw]
    tickets: list[Raw]  # ticket events and snapshots, in partition order


@pytest.fixture(scope="session")
def season(bus_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Season:
    """The simulator's seeded season, played once through the real connectors; its raw
    facts are replayed into a fresh prefix by every test."""
    s = fresh(bus_settings, "sim")
    tmp = tmp_path_factory.mktemp("season")
    truth_path = tmp / "truth.json"
    proc = subprocess.run(
        [sys.executable, "-m", "ops.cli", "simulate", *SEASON, "--truth", str(truth_path), "--fast",
         "--no-progress"],
        env=env_for(s, tmp / "unused", CONNECTOR), cwd=REPO, capture_output=True, timeout=600)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    truth = json.loads(truth_path.read_text())
    return Season(truth=truth, calendar=read_raw(s, [PERFORMANCES]),
                  tickets=read_raw(s, [TICKET_EVENTS, SNAPSHOTS]))


@pytest.fixture()
def streams_settings(bus_settings: Settings) -> Settings:
    return fresh(bus_settings, "st")


@pytest.fixture()
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test's report ends with the last lines of each worker's log (the workers log
    warnings and errors only), so a failure in CI says what the workers saw."""
    outcome = yield
    report = outcome.get_result()
    workdir = getattr(item, "funcargs", {}).get("workdir")
    if report.when != "call" or not report.failed or workdir is None:
        return
    for log in sorted(Path(workdir).glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-60:]
        report.sections.append((f"worker log {log.name} (last {len(lines)} lines)", "\n".join(lines)))

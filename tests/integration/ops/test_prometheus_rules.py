"""The alerting rules: promtool checks them and runs their unit tests (tests.yml)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ops.grafana.panels import code_metric_names, metric_names
from ops.prometheus.build import PrometheusBinaries, build
from ops.prometheus.config import RULES_DIR, default_cache_dir

pytestmark = pytest.mark.timeout(3600)  # a cold build of promtool takes minutes

REPO_ROOT = Path(__file__).resolve().parents[3]
RULES = RULES_DIR / "cultuurbus.yml"
REQUIRED = {
    "CultuurbusConsumerLagGrowing",  # consumer lag growing
    "CultuurbusDeadLetters",  # DLQ receiving
    "CultuurbusUnmatchedPilingUp",  # unmatched events piling up
    "CultuurbusSinkClickHouseDown", "CultuurbusSinkInsertsFailing", "CultuurbusSinkStalled",  # sink failing
    "CultuurbusSourceSilent",  # no facts from a source for N minutes
    "CultuurbusAvailabilityStale",  # availability stale
}


@pytest.fixture(scope="module")
def binaries() -> PrometheusBinaries:
    return build(default_cache_dir(root=REPO_ROOT / ".stack"))


def promtool(binaries: PrometheusBinaries, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(binaries.promtool), *args], capture_output=True, text=True,
                          timeout=120, check=False, cwd=RULES_DIR)


def test_rules_pass_promtool_check_rules_including_its_lint(binaries: PrometheusBinaries) -> None:
    done = promtool(binaries, "check", "rules", "--lint=all", "--lint-fatal", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"SUCCESS: \d+ rules found", done.stdout)


def test_the_issue_alerts_are_all_there() -> None:
    names = set(re.findall(r"^\s+- alert: (\w+)$", RULES.read_text(), re.M))
    assert REQUIRED <= names


def test_promtool_unit_tests_of_the_rules_pass(binaries: PrometheusBinaries) -> None:
    done = promtool(binaries, "test", "rules", "tests.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    tested = set(re.findall(r"alertname: (\w+)", (RULES_DIR / "tests.yml").read_text()))
    assert len(tested & REQUIRED) >= 3


def test_every_metric_a_rule_reads_is_declared_in_the_code() -> None:
    used = metric_names(RULES.read_text())
    assert sorted(used - code_metric_names()) == []

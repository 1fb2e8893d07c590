"""Who may run which report, and the audience threshold's rules, without a database."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bus.errors import ConfigError
from bus.settings import ReportSettings, load_settings
from bus.tenants import Tenant
from sinks.clickhouse.audience import audience_report, threshold
from sinks.clickhouse.scope import OPERATOR, ReportRefused, ReportTable, run_query, scope_for


@pytest.mark.parametrize("kind", ["app", "vendor"])
@pytest.mark.parametrize("report", ["sales", "audience", "benchmark"])
def test_apps_and_vendors_run_no_report(kind: str, report: str) -> None:
    with pytest.raises(ReportRefused, match=f"board \\({kind}\\) may not run `report {report}`"):
        scope_for(Tenant("board", kind), report)  # type: ignore[arg-type]


def test_an_analyst_sees_sector_aggregates_but_no_sales() -> None:
    analyst = Tenant("bureau", "analyst")
    with pytest.raises(ReportRefused, match="sector-aggregated figures only"):
        scope_for(analyst, "sales")
    assert scope_for(analyst, "audience").rows == "all"
    assert scope_for(analyst, "benchmark").where == "1"


def test_a_venue_and_a_producer_see_their_own_rows() -> None:
    venue = scope_for(Tenant("schouwburg", "venue", venues=("v1", "v2")), "sales")
    assert (venue.rows, venue.params()) == ("own", {"scope_venues": ["v1", "v2"], "scope_productions": []})
    producer = scope_for(Tenant("gezelschap", "producer", productions=("P1",)), "audience")
    assert producer.params()["scope_productions"] == ["P1"]
    assert "performance_id IN" in producer.where
    assert producer.across_sector().where == "1"  # comparisons: the sector's groups, for everyone


@pytest.mark.parametrize("tenant", [None, Tenant("oud", "venue", venues=("v1",), revoked=True)])
def test_an_unknown_or_revoked_tenant_is_refused(tenant: Tenant | None) -> None:
    with pytest.raises(ReportRefused, match="unknown or revoked"):
        scope_for(tenant, "sales")


def test_a_query_without_the_scope_marker_never_runs() -> None:
    with pytest.raises(ValueError, match="scope marker"):
        run_query(None, OPERATOR, "SELECT * FROM ticket_facts", {})


def _groups(*sizes: int) -> ReportTable:
    return ReportTable("t", ["group", "buyers"], [(f"g{i}", n) for i, n in enumerate(sizes)])


def test_groups_below_the_threshold_are_named_without_figures() -> None:
    out = threshold(_groups(30, 12, 4, 6), 10)
    assert out.rows == [("g0", 30), ("g1", 12)]
    assert any("suppressed" in n and "g2, g3" in n for n in out.notes)
    assert "4" not in " ".join(out.notes) and "6" not in " ".join(out.notes)


def test_a_lone_small_group_takes_the_smallest_shown_one_with_it() -> None:
    # with 3 hidden, a total (or a share) would give the small group away: 11 hides too
    out = threshold(_groups(30, 11, 3), 10)
    assert out.rows == [("g0", 30)]
    assert any("g1, g2" in n for n in out.notes)
    assert threshold(_groups(12, 3), 10).rows == []


def test_the_threshold_cannot_go_below_its_floor() -> None:
    with pytest.raises(ValidationError):
        ReportSettings(min_buyers=4)
    assert ReportSettings().min_buyers == 10
    with pytest.raises(ValueError, match="at least 5"):
        audience_report(None, min_buyers=2)


def test_the_report_token_and_threshold_come_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CULTUURBUS_CONFIG_FILE", str(tmp_path / "none.toml"))
    monkeypatch.setenv("CULTUURBUS_REPORT__TOKEN", "tok")
    monkeypatch.setenv("CULTUURBUS_REPORT__MIN_BUYERS", "12")
    report = load_settings().report
    assert (report.token.get_secret_value() if report.token else None, report.min_buyers) == ("tok", 12)
    monkeypatch.setenv("CULTUURBUS_REPORT__MIN_BUYERS", "3")
    with pytest.raises((ValidationError, ConfigError)):
        load_settings()

"""Ground truth: derived from the season alone, consistent, and stable on disk."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.simulator.model import Season
from connectors.simulator.season import build_season
from connectors.simulator.truth import TOPICS, compute_truth, write_truth

NOW = datetime(2025, 11, 14, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def season() -> Season:
    return build_season(7, venues=6, productions=8, performances=30, now=NOW)


@pytest.fixture(scope="module")
def truth(season: Season) -> dict:  # type: ignore[type-arg]
    return compute_truth(season)


def test_same_seed_writes_the_same_truth_file(tmp_path: Path, season: Season) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_truth(season, a)
    write_truth(build_season(7, venues=6, productions=8, performances=30, now=NOW), b)
    assert a.read_bytes() == b.read_bytes()
    doc = json.loads(a.read_text())
    assert set(doc) == {"seed", "now", "params", "performances", "totals", "facts"}
    assert doc["seed"] == 7 and doc["now"] == NOW.isoformat()
    assert doc["params"] == {"venues": 6, "productions": 8, "performances": 30}


def test_another_seed_gives_another_truth(truth: dict) -> None:  # type: ignore[type-arg]
    other = compute_truth(build_season(8, venues=6, productions=8, performances=30, now=NOW))
    assert other["performances"] != truth["performances"]


def test_every_performance_obeys_the_seat_arithmetic(truth: dict) -> None:  # type: ignore[type-arg]
    for cid, p in truth["performances"].items():
        assert 0 <= p["sold"] <= p["capacity"], cid
        if p["declared"]:  # no ticket facts reach the bus: it shows the venue's declared figure
            assert p["sold"] == p["reserved"] == p["blocked"] == 0, cid
            assert 0 <= p["remaining"] <= p["capacity"], cid
            continue
        assert p["remaining"] == max(p["capacity"] - p["sold"] - p["reserved"] - p["blocked"], 0)
        assert p["remaining"] >= 0
        assert sum(p["tickets"].values()) == p["sold"]
        assert p["identifiers"][0] == cid


def test_availability_status_follows_calendar_then_remaining_seats(truth: dict) -> None:  # type: ignore[type-arg]
    statuses = {p["availability"] for p in truth["performances"].values()}
    assert {"CANCELLED", "POSTPONED", "SOLD_OUT", "AVAILABLE"} <= statuses
    for p in truth["performances"].values():
        if p["calendar_status"] != "SCHEDULED":
            assert p["availability"] == p["calendar_status"]
        elif p["remaining"] == 0:
            assert p["availability"] == "SOLD_OUT"
        elif p["remaining"] <= 10:
            assert p["availability"] == "LIMITED"
        else:
            assert p["availability"] == "AVAILABLE"


def test_the_cancelled_performance_ends_with_nothing_sold_and_everything_refunded(
        truth: dict) -> None:  # type: ignore[type-arg]
    (cancelled,) = [p for p in truth["performances"].values() if p["calendar_status"] == "CANCELLED"]
    assert cancelled["sold"] == 0 and cancelled["refunded"] > 0
    assert sum(cancelled["revenue_cents"].values()) == 0


def test_scans_and_no_shows_only_for_started_performances(truth: dict) -> None:  # type: ignore[type-arg]
    started = [p for p in truth["performances"].values() if p["started"]]
    assert started
    for p in truth["performances"].values():
        if not p["started"]:
            assert p["scanned"] == 0 and p["no_shows"] is None
        else:
            assert p["no_shows"] == max(p["sold"] - p["scanned"], 0)
    assert any(p["scanned"] > 0 and 0 < p["no_shows"] for p in started)


def test_fact_counts_add_up_per_topic(truth: dict) -> None:  # type: ignore[type-arg]
    for topic in TOPICS:
        assert truth["facts"][topic] == sum(p["facts"][topic] for p in truth["performances"].values())
        assert truth["facts"][topic] > 0
    for p in truth["performances"].values():
        snapshot_sourced = p["ticketing"] in ("stager", "dip-cumulative")
        if snapshot_sourced:
            assert p["facts"]["ticketing.events"] == 0
        else:
            assert p["facts"]["ticketing.snapshots"] == 0
        assert p["facts"]["calendar.performances"] >= 1


def test_totals_sum_the_performances(truth: dict) -> None:  # type: ignore[type-arg]
    perfs = truth["performances"].values()
    for k in ("sold", "refunded", "reserved", "blocked", "scanned", "capacity"):
        assert truth["totals"][k] == sum(p[k] for p in perfs)
    assert truth["totals"]["revenue_cents"] == sum(sum(p["revenue_cents"].values()) for p in perfs)
    assert truth["totals"]["sold_out"] >= 1

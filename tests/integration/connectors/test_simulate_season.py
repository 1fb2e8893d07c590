"""`cultuurbus simulate` against real Kafka: what lands on the topics is the ground truth.

A small season (6 venues, 20 performances, seed 7) is played through every real
connector path; the records read back must hold exactly the facts the truth expects,
recompute to the truth's numbers per canonical performance, and carry none of the
buyer pool's personal data, DLQs included.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bus.kafka import make_admin
from bus.settings import Settings
from bus.topics import PERFORMANCES, SNAPSHOTS, TICKET_EVENTS, apply_catalog
from connectors.simulator.cli import simulate as simulate_cli
from connectors.simulator.model import CALENDAR_KINDS, TICKETING_KINDS, Season
from connectors.simulator.readback import Observed, compare, observe, privacy_leaks, recompute
from connectors.simulator.run import SimulationReport, simulate
from connectors.simulator.season import build_season
from connectors.simulator.truth import compute_truth
from schemas.models import utcnow

pytestmark = pytest.mark.integration


def _own_prefix(settings: Settings, tag: str) -> Settings:
    """Topics of this test alone (other tests of the session publish under the session prefix)."""
    mine = settings.model_copy(update={"topic_prefix": f"{settings.topic_prefix}{tag}{uuid.uuid4().hex[:4]}."})
    apply_catalog(make_admin(mine.kafka), mine.topic_prefix)
    return mine


Played = tuple[Season, SimulationReport, dict[str, Any], Observed]


def _play(settings: Settings, seed: int, venues: int, productions: int, performances: int,
          identifiers: str = "real", **kwargs: Any) -> Played:
    season = build_season(seed, venues=venues, productions=productions,
                          performances=performances, now=utcnow().replace(microsecond=0),
                          identifiers=identifiers)
    report = simulate(settings, season, timeout_s=240, **kwargs)
    return season, report, compute_truth(season), observe(settings)


@pytest.fixture(scope="module")
def played(topics: Settings) -> Played:
    # the simulator's own conventions ("linked"): every description shares an identifier,
    # so recompute(observed) ties the facts without the truth (the default "real" season
    # is played by the CLI and the larger season below)
    return _play(_own_prefix(topics, "sim"), 7, 6, 8, 20, identifiers="linked")


def test_every_source_kind_delivered_and_every_fact_was_acknowledged(played: Played) -> None:
    _, report, _, _ = played
    assert report.errors == []
    assert {s.kind for s in report.stats} == set(CALENDAR_KINDS + TICKETING_KINDS)
    for s in report.stats:
        assert s.facts == s.facts_expected > 0, s
        assert s.refused == 0, s


def test_each_topic_holds_exactly_the_distinct_facts_the_truth_expects(played: Played) -> None:
    _, _, truth, observed = played
    for topic in (TICKET_EVENTS, SNAPSHOTS, PERFORMANCES):
        assert observed.distinct(topic) == truth["facts"][topic], topic
    assert observed.dead_letters == {TICKET_EVENTS: 0, SNAPSHOTS: 0, PERFORMANCES: 0}


def test_numbers_recomputed_from_the_topics_equal_the_truth_per_performance(played: Played) -> None:
    _, _, truth, observed = played
    numbers, unresolved = recompute(observed)
    assert unresolved == []
    assert set(numbers) == set(truth["performances"])
    for cid, want in truth["performances"].items():
        got = numbers[cid]
        for field in ("sold", "refunded", "scanned", "reserved", "blocked", "capacity",
                      "calendar_status", "tickets", "revenue_cents"):
            assert got[field] == want[field], (cid, want["ticketing"], field)
    assert compare(truth, observed) == []


def test_vendor_only_ticket_facts_are_tied_through_calendar_identifiers(played: Played) -> None:
    season, _, truth, observed = played
    vendor_only = {p.canonical_id for p in season.performances if not p.tickets_carry_canonical}
    assert vendor_only
    keyed_by_vendor = [e for e in observed.facts[TICKET_EVENTS]
                       if e["performance_key"].startswith("vendor:")
                       and all(i["namespace"] not in ("dip", "uit") for i in e["identifiers"])]
    assert keyed_by_vendor  # the crosswalk has real work to do
    numbers, _ = recompute(observed)
    for cid in vendor_only:
        assert numbers[cid]["sold"] == truth["performances"][cid]["sold"]


def test_the_season_has_a_sold_out_a_cancelled_and_a_started_performance_on_the_topics(
        played: Played) -> None:
    _, _, truth, observed = played
    numbers, _ = recompute(observed)
    by_status = {p["availability"] for p in truth["performances"].values()}
    assert {"SOLD_OUT", "CANCELLED"} <= by_status
    (cancelled,) = [c for c, p in truth["performances"].items() if p["calendar_status"] == "CANCELLED"]
    assert numbers[cancelled]["sold"] == 0 and numbers[cancelled]["refunded"] > 0
    started = [c for c, p in truth["performances"].items() if p["started"] and p["scans_reported"]]
    assert started and all(numbers[c]["scanned"] == truth["performances"][c]["scanned"] > 0
                           for c in started)


def test_no_raw_personal_data_of_any_buyer_reaches_any_topic_or_dlq(played: Played) -> None:
    season, _, _, observed = played
    buyers = {h.customer_id for h in season.happenings if h.customer_id}
    assert len(buyers) > 50
    assert len(observed.raw) >= sum(len(v) for v in observed.facts.values())
    assert privacy_leaks(observed, season) == []
    pseudonymised = [e["buyer"] for e in observed.facts[TICKET_EVENTS] if e.get("buyer")]
    assert pseudonymised and all(len(b["id_hash"]) == 64 for b in pseudonymised)


def test_the_cli_writes_the_truth_and_prints_records_per_second_per_connector(
        topics: Settings, tmp_path: Path) -> None:
    settings = _own_prefix(topics, "cli")
    truth_path = tmp_path / "truth.json"
    result = CliRunner().invoke(simulate_cli, [
        "--seed", "3", "--venues", "3", "--productions", "2", "--performances", "6",
        "--truth", str(truth_path), "--no-progress", "--timeout", "120"], obj=settings)
    assert result.exit_code == 0, result.output
    truth = json.loads(truth_path.read_text())
    assert truth["seed"] == 3 and len(truth["performances"]) == 6
    assert "records/s per connector kind" in result.output
    assert "webhook" in result.output and "facts acknowledged" in result.output
    assert compare(truth, observe(settings)) == []


@pytest.mark.slow
def test_a_larger_season_with_calendars_last_still_matches_the_truth(topics: Settings) -> None:
    season, report, truth, observed = _play(_own_prefix(topics, "big"), 42, 8, 12, 60,
                                            calendar_last=True)
    assert report.errors == []
    assert compare(truth, observed) == []
    assert privacy_leaks(observed, season) == []

"""A real-rules season (``identifiers="real"``): no source carries an identifier its real
counterpart would not, a third of the vendor events carry no sector id, and the ground
truth still names the performance of every description the connectors publish."""

from __future__ import annotations

from collections import Counter

import pytest

from connectors.calendar.uitdatabank.mapping import map_event
from connectors.simulator.descriptions import published_descriptions
from connectors.simulator.drivers.base import Env
from connectors.simulator.drivers.uitdatabank import UitdatabankDriver
from connectors.simulator.drivers.venuepages import IcalDriver, SchemaOrgDriver
from connectors.simulator.model import DECLARED, Season
from connectors.simulator.realism import declared_remaining
from connectors.simulator.season import LOCAL_TZ, build_season
from connectors.simulator.truth import compute_truth
from tests.support.simulator import NOW, season_fixtures

season, env = season_fixtures(venues=12, productions=14, performances=90, identifiers="real")


def test_the_default_season_plays_by_real_rules_and_linked_is_asked_for_by_name() -> None:
    default = build_season(42, venues=8, productions=12, performances=60, now=NOW)
    assert default.real and default.identifiers == "real"
    assert any(not p.vendor_field for p in default.performances if p.vendor_id is not None)
    linked = build_season(42, venues=8, productions=12, performances=60, now=NOW, identifiers="linked")
    assert not linked.real
    assert all(not p.shop_link and p.ticketing != DECLARED for p in linked.performances)


def test_uitdatabank_production_lists_the_other_uit_events_of_the_production(
        env: Env, season: Season) -> None:
    events: dict[str, set[str]] = {}
    for p in season.performances:
        if p.uit_event is not None:
            events.setdefault(p.production_id, set()).add(p.uit_event)
    assert any(len(e) > 1 for e in events.values()) and any(len(e) == 1 for e in events.values())
    for u in UitdatabankDriver(env).units():
        own = u.payload["@id"].rsplit("/", 1)[1]
        prod = season.performance(u.perf).production_id
        others = sorted(events[prod] - {own})
        for perf in map_event(u.payload, account="uit").performances:
            assert perf.production_other_events == others
            assert (perf.production_id is None) == (not others)


def test_an_unknown_identifier_mode_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="linked, real"):
        build_season(1, venues=4, productions=3, performances=6, now=NOW, identifiers="fake")


def test_in_real_mode_no_uitdatabank_event_carries_a_vendor_id_label(env: Env) -> None:
    for u in UitdatabankDriver(env).units():
        assert not any(":" in label for label in u.payload["labels"]), u.payload["labels"]
        for perf in map_event(u.payload, account="uit").performances:
            assert not any(i.namespace.startswith("vendor") and "uitdatabank" not in i.namespace
                           and not i.namespace.startswith("vendor:eventbrite")
                           and not i.namespace.startswith("vendor:ticketmatic")
                           for i in perf.identifiers)


def test_in_real_mode_venue_pages_and_ical_feeds_carry_no_sector_or_vendor_tags(env: Env) -> None:
    for driver in (SchemaOrgDriver(env), IcalDriver(env)):
        for u in driver.units():
            _, body, _ = driver._document(*u.payload)
            assert "X-CULTUURBUS-ID" not in body
            assert '"identifier"' not in body
            assert "dip:" not in body and "uit:" not in body


def test_a_third_of_vendor_events_carry_no_sector_id(season: Season) -> None:
    vendor = [p for p in season.performances if p.vendor_id is not None]
    without = [p for p in vendor if not p.vendor_field]
    assert abs(len(without) / len(vendor) - 1 / 3) < 0.02
    assert {p.ticketing for p in without} <= {"eventbrite", "ticketmatic"}
    assert {p.vendor_field for p in vendor} == {"", "dip", "uit"}


def test_some_uitdatabank_events_link_by_the_vendors_real_booking_url(env: Env) -> None:
    linked = []
    for u in UitdatabankDriver(env).units():
        for perf in map_event(u.payload, account="uit").performances:
            if any(i.namespace in ("vendor:eventbrite", "vendor:ticketmatic") or
                   i.namespace.startswith("vendor:ticketmatic:") for i in perf.identifiers):
                linked.append(perf.url)
    assert linked and all("eventbrite." in url or "apps.ticketmatic.com" in url  # type: ignore[operator]
                          for url in linked)


def test_declared_venues_publish_remaining_seats_in_uitdatabank_or_schemaorg(
        env: Env, season: Season) -> None:
    declared = [p for p in season.performances if p.ticketing == DECLARED]
    assert declared
    truth = compute_truth(season)
    assert all(truth["performances"][p.canonical_id]["declared"] for p in declared)
    assert all(truth["performances"][p.canonical_id]["facts"]["ticketing.events"] == 0
               for p in declared)
    seen = {}
    for u in UitdatabankDriver(env).units():
        for perf, sub in zip(map_event(u.payload, account="uit").performances,
                             u.payload["subEvent"], strict=True):
            seen[perf.performance_key] = sub["bookingAvailability"].get("remainingCapacity")
    for p in declared:
        if p.uit_event is not None:
            assert seen[p.canonical_id] == declared_remaining(season, p)


def test_the_truth_of_a_declared_performance_is_the_declared_figure_not_the_unseen_sales(
        season: Season) -> None:
    truth = compute_truth(season)["performances"]
    declared = {p.canonical_id for p in season.performances if p.ticketing == DECLARED}
    shown = [(d.truth, d.performance.declared) for d in published_descriptions(season)
             if d.truth in declared and d.performance.declared is not None]
    assert {cid for cid, _ in shown} == declared
    assert any(season.performance(cid).sold_out or truth[cid]["remaining"] < truth[cid]["capacity"]
               for cid in declared), "some declared venue sold seats the bus never sees"
    for cid, figure in shown:
        want = truth[cid]
        assert figure.remaining == want["remaining"], cid
        assert want["sold"] == want["refunded"] == want["scanned"] == 0, cid
        assert sum(want["revenue_cents"].values()) == 0 and not want["scans_reported"], cid
        if figure.remaining == 0 and want["calendar_status"] == "SCHEDULED":
            assert want["availability"] == "SOLD_OUT", cid


def test_ground_truth_maps_every_published_description_to_its_performance(season: Season) -> None:
    published = published_descriptions(season)
    truth = compute_truth(season)
    per_perf = Counter(d.truth for d in published)
    for cid, perf in truth["performances"].items():
        assert per_perf[cid] == len(perf["descriptions"]), cid
    for d in published:
        sim = season.performance(d.truth)
        assert d.performance.start == sim.start


def test_matinee_and_evening_of_one_production_share_a_title_in_every_source(season: Season) -> None:
    by_day: dict[tuple[str, str, object], list[str]] = {}
    for p in season.performances:
        key = (p.production_id, p.venue, p.start.astimezone(LOCAL_TZ).date())
        by_day.setdefault(key, []).append(p.canonical_id)
    pairs = [ids for ids in by_day.values() if len(ids) == 2]
    assert pairs
    published = published_descriptions(season)
    for a, b in pairs:
        titles_a = {d.source: d.performance.title for d in published if d.truth == a}
        titles_b = {d.source: d.performance.title for d in published if d.truth == b}
        common = titles_a.keys() & titles_b.keys()
        assert common and {k: titles_a[k] for k in common} == {k: titles_b[k] for k in common}
        assert season.performance(a).start != season.performance(b).start


def test_titles_vary_across_sources_as_real_ones_do(season: Season) -> None:
    published = published_descriptions(season)
    differing = sum(len({d.performance.title for d in published if d.truth == p.canonical_id}) > 1
                    for p in season.performances)
    assert differing > len(season.performances) / 4

"""The seeded season model: reproducible, and realistic in the ways the bus depends on."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from connectors.simulator.model import (
    CAPABILITIES,
    SNAPSHOT_KINDS,
    TICKETING_KINDS,
    Season,
)
from connectors.simulator.season import LOCAL_TZ, build_season
from schemas.models import Identifier

NOW = datetime(2025, 11, 14, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def season() -> Season:
    return build_season(42, venues=8, productions=12, performances=60, now=NOW)


def test_same_seed_gives_a_byte_identical_season(season: Season) -> None:
    again = build_season(42, venues=8, productions=12, performances=60, now=NOW)
    assert again.to_json() == season.to_json()


def test_another_seed_gives_another_season(season: Season) -> None:
    other = build_season(43, venues=8, productions=12, performances=60, now=NOW)
    assert other.to_json() != season.to_json()
    assert {p.canonical_id for p in other.performances} != {p.canonical_id for p in season.performances}


def test_asks_for_an_aware_now_and_a_sensible_size() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build_season(1, venues=4, productions=2, performances=6, now=datetime(2025, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="venues >= 2"):
        build_season(1, venues=1, productions=2, performances=6, now=NOW)


def test_has_the_asked_numbers_of_venues_productions_and_performances(season: Season) -> None:
    assert len(season.venues) == 8
    assert len(season.productions) == 12
    assert len(season.performances) == 60
    assert len({p.canonical_id for p in season.performances}) == 60
    assert {p.production_id for p in season.performances} == {p.id for p in season.productions}


def test_venues_are_in_nl_with_dip_ids_and_in_flanders_with_uit_places(season: Season) -> None:
    countries = Counter(v.country for v in season.venues)
    assert countries["NL"] >= 1 and countries["BE"] >= 1
    for v in season.venues:
        assert v.zipcode and v.city and v.province
        if v.country == "NL":
            assert v.dip_theater_id and v.uit_place_uuid is None
        else:
            assert v.uit_place_uuid and v.dip_theater_id is None
    feeds = Counter(f for v in season.venues for f in v.calendar_feeds)
    assert feeds["schemaorg"] >= 1 and feeds["ical"] >= 1


def test_canonical_id_is_the_dip_id_in_nl_and_the_uit_id_in_flanders(season: Season) -> None:
    for p in season.performances:
        country = season.venue(p.venue).country
        if country == "NL":
            assert p.dip_number is not None
            assert p.canonical_id == Identifier.dip(p.production_id, p.dip_number).key
            assert "dip-calendar" in p.calendars
        else:
            assert p.uit_event is not None and p.uit_index is not None
            assert p.canonical_id == Identifier.uit(p.uit_event, p.uit_index).key
            assert "uitdatabank" in p.calendars
            assert p.ticketing not in SNAPSHOT_KINDS  # DIP and Stager are Dutch
        venue = season.venue(p.venue)
        assert set(venue.calendar_feeds) <= set(p.calendars)


@pytest.fixture(scope="module")
def linked_season() -> Season:
    # The rule checked below (which kinds' ticket facts carry the canonical id) is the
    # "linked" mode's convention; real-rules seasons (the default) decide it per vendor
    # event (custom field or not), checked in test_simulator_realism.
    return build_season(42, venues=8, productions=12, performances=60, now=NOW, identifiers="linked")


def test_every_ticketing_kind_sells_something_and_some_tickets_need_the_crosswalk(
        linked_season: Season) -> None:
    season = linked_season
    assert Counter(p.ticketing for p in season.performances).keys() == set(TICKETING_KINDS)
    for p in season.performances:
        flemish_export = p.ticketing == "boxoffice-csv" and season.venue(p.venue).country == "BE"
        assert p.tickets_carry_canonical == (CAPABILITIES[p.ticketing].carries_canonical
                                             and not flemish_export)
        assert (p.vendor_id is None) == (p.ticketing == "dip-cumulative")
    assert not all(p.tickets_carry_canonical for p in season.performances)


def test_kinds_only_make_what_their_source_can_report(season: Season) -> None:
    kind_of = {p.canonical_id: p.ticketing for p in season.performances}
    for h in season.happenings:
        caps = CAPABILITIES[kind_of[h.performance]]
        if h.event_type in ("RESERVED", "RESERVATION_RELEASED"):
            assert caps.holds, h
        if h.event_type in ("BLOCKED", "UNBLOCKED"):
            assert caps.blocks, h
    position = {hid: i for i, hid in enumerate(season.delivery)}
    in_time = sorted(season.happenings, key=lambda h: (h.event_time, h.id))
    for kind, caps in CAPABILITIES.items():
        if caps.out_of_order:
            continue
        mine = [h.id for h in in_time if kind_of[h.performance] == kind]
        assert [position[x] for x in mine] == sorted(position[x] for x in mine), kind


def test_performances_spread_around_now_at_evening_hours_with_some_tonight_and_tomorrow(
        season: Season) -> None:
    starts = [p.start for p in season.performances]
    assert min(starts) >= NOW - timedelta(days=22)
    assert max(starts) <= NOW + timedelta(days=22)
    assert sum(NOW < s <= NOW + timedelta(days=2) for s in starts) >= 2
    hours = Counter(s.astimezone(LOCAL_TZ).strftime("%H:%M") for s in starts)
    assert hours.most_common(1)[0][0] == "20:15"
    for p in season.performances:
        assert 80 <= p.capacity <= 1500
        assert p.on_sale <= NOW and timedelta(days=37) <= p.start - p.on_sale <= timedelta(days=47)


def test_no_happening_lies_after_now_or_before_the_on_sale(season: Season) -> None:
    for h in season.happenings:
        perf = season.performance(h.performance)
        assert perf.on_sale <= h.event_time <= NOW
    for s in season.snapshots:
        assert s.event_time <= NOW


def _running(season: Season) -> dict[str, dict[str, int]]:
    """Replays happenings in event-time order, checking capacity at every step."""
    state: dict[str, dict[str, int]] = defaultdict(Counter)  # type: ignore[arg-type]
    effect = {"SOLD": ("sold", 1), "CANCELLED": ("sold", -1), "REFUNDED": ("sold", -1),
              "RESERVED": ("reserved", 1), "RESERVATION_RELEASED": ("reserved", -1),
              "BLOCKED": ("blocked", 1), "UNBLOCKED": ("blocked", -1), "SCANNED": ("scanned", 1)}
    for h in sorted(season.happenings, key=lambda h: (h.event_time, h.id)):
        what, sign = effect[h.event_type]
        s = state[h.performance]
        s[what] += sign * h.quantity
        cap = season.performance(h.performance).capacity
        assert s["sold"] + s["reserved"] + s["blocked"] <= cap, h
        assert min(s["sold"], s["reserved"], s["blocked"]) >= 0, h
    return state


def test_sales_never_exceed_capacity_and_counts_never_go_negative(season: Season) -> None:
    _running(season)


def test_at_least_one_performance_sells_out_to_the_last_seat(season: Season) -> None:
    state = _running(season)
    sold_out = [p for p in season.performances if p.sold_out]
    assert sold_out
    for p in sold_out:
        s = state[p.canonical_id]
        assert s["sold"] + s["reserved"] + s["blocked"] == p.capacity


def test_one_performance_is_cancelled_and_all_its_tickets_refunded(season: Season) -> None:
    cancelled = [p for p in season.performances if p.status == "CANCELLED"]
    postponed = [p for p in season.performances if p.status == "POSTPONED"]
    assert len(cancelled) == 1 and len(postponed) == 1
    c = cancelled[0]
    assert c.status_changed_at is not None and c.status_changed_at <= NOW < c.start
    state = _running(season)
    assert state[c.canonical_id]["sold"] == 0
    assert any(h.performance == c.canonical_id and h.event_type == "REFUNDED"
               for h in season.happenings)


def test_only_started_performances_have_door_scans_and_most_ticket_holders_show_up(
        season: Season) -> None:
    state = _running(season)
    for p in season.performances:
        s = state[p.canonical_id]
        if season.started(p):
            if s["sold"] >= 50:
                assert 0.845 * s["sold"] <= s["scanned"] <= 0.955 * s["sold"]
        else:
            assert s["scanned"] == 0
    scans = [h for h in season.happenings if h.event_type == "SCANNED"]
    assert scans and all(h.quantity == 1 and len(h.ticket_ids) == 1 for h in scans)
    sold_at = {t: h.event_time for h in season.happenings if h.event_type == "SOLD"
               for t in h.ticket_ids}
    assert all(sold_at[h.ticket_ids[0]] <= h.event_time for h in scans)


def test_has_refunds_holds_blocks_and_a_realistic_ticket_mix(season: Season) -> None:
    kinds = Counter(h.event_type for h in season.happenings)
    for k in ("SOLD", "REFUNDED", "CANCELLED", "RESERVED", "RESERVATION_RELEASED", "BLOCKED",
              "UNBLOCKED", "SCANNED"):
        assert kinds[k] > 0, k
    sales = [h for h in season.happenings if h.event_type == "SOLD"]
    undone = kinds["REFUNDED"] + kinds["CANCELLED"]
    cancelled = next(p for p in season.performances if p.status == "CANCELLED").canonical_id
    ordinary = sum(1 for h in season.happenings if h.event_type in ("REFUNDED", "CANCELLED")
                   and h.performance != cancelled)
    assert 0.01 < ordinary / len(sales) < 0.06
    assert undone > ordinary
    types = Counter(h.ticket_type for h in sales)
    assert types["NORMAL"] > types["DISCOUNT"] > 0 and types["FREE"] > 0 and types["OTHER"] > 0
    assert {h.channel for h in sales} == {"web", "box_office", "reseller"}
    assert {h.quantity for h in sales if not season.performance(h.performance).sold_out} <= set(range(1, 7))


def test_some_refunds_are_delivered_before_the_sale_they_undo(season: Season) -> None:
    position = {hid: i for i, hid in enumerate(season.delivery)}
    assert sorted(position) == sorted(h.id for h in season.happenings)
    sale = {h.order_id: h for h in season.happenings if h.event_type == "SOLD"}
    early = [h for h in season.happenings if h.event_type in ("REFUNDED", "CANCELLED")
             and position[h.id] < position[sale[h.order_id].id]]
    assert early


def test_buyers_have_fake_personal_data_and_some_return(season: Season) -> None:
    c = season.customers[0]
    assert "@" in c.email and c.phone and c.street and c.postcode and c.birthdate < NOW.date()
    assert {x.country for x in season.customers} == {"NL", "BE"}
    per_buyer = Counter(h.customer_id for h in season.happenings if h.event_type == "SOLD")
    assert per_buyer.most_common(1)[0][1] >= 3
    assert all(cid in {x.id for x in season.customers} for cid in per_buyer)


def test_snapshot_sources_report_cumulative_numbers_ending_at_the_final_state(season: Season) -> None:
    state = _running(season)
    snapped = {s.performance for s in season.snapshots}
    assert snapped
    for cid in snapped:
        assert season.performance(cid).ticketing in SNAPSHOT_KINDS
        last = max((s for s in season.snapshots if s.performance == cid), key=lambda s: s.event_time)
        assert last.sold == state[cid]["sold"]
        assert last.reservations == state[cid]["reserved"]
        assert last.blocked_seats == state[cid]["blocked"]

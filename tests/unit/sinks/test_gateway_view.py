"""The gateway's local view: updates, tombstones, stale copies, filters and the resume ring."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from sinks.gateway.view import AvailabilityQuery, LastMinuteQuery, Outcome, View

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def availability(pid: str, **kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "performance_id": pid, "capacity": 100, "sold": 90, "reserved": 2, "blocked": 0, "refunded": 1,
        "remaining": 8, "status": "LIMITED", "uit_booking_availability_type": "Available",
        "schema_org_availability": "https://schema.org/LimitedAvailability", "title": "Hamlet",
        "venue_name": "Stadsschouwburg", "city": "Utrecht", "region": "Utrecht", "genre": "Toneel",
        "start": NOW + timedelta(hours=8), "last_fact_time": NOW, "updated_at": NOW, "version": 5,
    }
    rec.update(kw)
    return rec


def offer(pid: str, **kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "performance_id": pid, "title": "Hamlet", "venue_name": "Stadsschouwburg", "city": "Utrecht",
        "region": "Utrecht", "genre": "Toneel", "start": NOW + timedelta(hours=8), "remaining": 8,
        "capacity": 100, "status": "LIMITED", "url": "https://example.org/book", "updated_at": NOW,
    }
    rec.update(kw)
    return rec


def test_availability_is_served_with_uitdatabank_and_schema_org_shapes() -> None:
    view = View(100, seq_base=0)
    outcome, change = view.apply_availability("dip|NL-23-1234-5|3", availability("dip|NL-23-1234-5|3"))
    assert outcome is Outcome.APPLIED and change is not None
    doc, seq = view.availability("dip|NL-23-1234-5|3")
    assert doc is not None and seq == 1 == change.seq
    assert doc["bookingAvailability"] == {"type": "Available", "capacity": 100, "remainingCapacity": 8}
    assert doc["offers"]["availability"] == "https://schema.org/LimitedAvailability"
    assert doc["start"] == "2025-06-01T20:00:00.000Z"
    assert doc["start_local"] == "2025-06-01T22:00:00+02:00"
    assert json.loads(change.data) == doc
    assert change.event == "availability"


def test_unknown_capacity_leaves_capacity_out_of_booking_availability() -> None:
    view = View(100, seq_base=0)
    view.apply_availability("p", availability("p", capacity=None, remaining=None, status="UNKNOWN"))
    doc, _ = view.availability("p")
    assert doc is not None
    assert doc["bookingAvailability"] == {"type": "Available"}


def test_copy_with_lower_version_is_stale_and_changes_nothing() -> None:
    view = View(100, seq_base=0)
    view.apply_availability("p", availability("p", version=7, remaining=5))
    outcome, change = view.apply_availability("p", availability("p", version=6, remaining=9))
    assert outcome is Outcome.STALE and change is None
    doc, seq = view.availability("p")
    assert doc is not None and doc["remaining"] == 5 and seq == 1


def test_newer_version_replaces_and_gets_the_next_sequence_number() -> None:
    view = View(100, seq_base=1000)
    view.apply_availability("p", availability("p", version=7, remaining=5))
    _, change = view.apply_availability("p", availability("p", version=8, remaining=4))
    assert change is not None and change.seq == 1002
    doc, _ = view.availability("p")
    assert doc is not None and doc["remaining"] == 4


def test_lastminute_tombstone_withdraws_the_offer() -> None:
    view = View(100, seq_base=0)
    view.apply_lastminute("p", offer("p"))
    outcome, change = view.apply_lastminute("p", None, ts_ms=1_748_779_200_000)
    assert outcome is Outcome.TOMBSTONE and change is not None
    assert change.event == "lastminute-withdrawn" and change.region == "Utrecht"
    assert json.loads(change.data)["performance_id"] == "p"
    items, total, _ = view.query_lastminute(LastMinuteQuery(now=NOW))
    assert items == [] and total == 0


def test_tombstone_for_an_offer_never_seen_changes_nothing() -> None:
    view = View(100, seq_base=0)
    outcome, change = view.apply_lastminute("never", None)
    assert outcome is Outcome.TOMBSTONE and change is None
    assert view.last_seq == 0


def test_availability_tombstone_removes_the_performance() -> None:
    view = View(100, seq_base=0)
    view.apply_availability("p", availability("p"))
    _, change = view.apply_availability("p", None)
    assert change is not None and change.event == "availability-withdrawn"
    assert view.availability("p")[0] is None


def test_availability_filters_compare_text_case_insensitively() -> None:
    view = View(100, seq_base=0)
    view.apply_availability("a", availability("a", region="Utrecht", city="Utrecht", genre="Toneel"))
    view.apply_availability("b", availability("b", region="Noord-Holland", city="Amsterdam",
                                                genre="Dans", status="AVAILABLE", remaining=50))
    view.apply_availability("c", availability("c", region="Utrecht", city="Amersfoort", genre="Dans",
                                                status="SOLD_OUT", remaining=0))

    def pids(**kw: Any) -> list[str]:
        return [d["performance_id"] for d in view.query_availability(AvailabilityQuery(**kw))[0]]

    assert pids(region="utrecht") == ["a", "c"]
    assert pids(city="AMSTERDAM") == ["b"]
    assert pids(genre="dans") == ["b", "c"]
    assert pids(statuses=frozenset({"LIMITED", "AVAILABLE"})) == ["a", "b"]
    assert pids(region="Utrecht", genre="Dans") == ["c"]
    assert pids(region="Limburg") == []


def test_availability_is_sorted_by_start_and_bounded_by_from_to_and_limit() -> None:
    view = View(100, seq_base=0)
    for i, hours in enumerate([30, 5, 10, 50]):
        view.apply_availability(f"p{i}", availability(f"p{i}", start=NOW + timedelta(hours=hours)))
    view.apply_availability("nostart", availability("nostart", start=None))
    items, total, _ = view.query_availability(AvailabilityQuery())
    assert [d["performance_id"] for d in items] == ["p1", "p2", "p0", "p3", "nostart"]
    assert total == 5
    items, total, _ = view.query_availability(AvailabilityQuery(
        start_from=NOW + timedelta(hours=6), start_to=NOW + timedelta(hours=50)))
    assert [d["performance_id"] for d in items] == ["p2", "p0"]
    items, total, _ = view.query_availability(AvailabilityQuery(limit=2))
    assert len(items) == 2 and total == 5


def test_lastminute_is_sorted_by_start_and_leaves_out_started_offers() -> None:
    view = View(100, seq_base=0)
    view.apply_lastminute("late", offer("late", start=NOW + timedelta(hours=9)))
    view.apply_lastminute("early", offer("early", start=NOW + timedelta(hours=2)))
    view.apply_lastminute("started", offer("started", start=NOW - timedelta(minutes=1)))
    items, total, _ = view.query_lastminute(LastMinuteQuery(now=NOW))
    assert [d["performance_id"] for d in items] == ["early", "late"] and total == 2


def test_lastminute_dates_are_amsterdam_days() -> None:
    view = View(100, seq_base=0)
    # 22:30 UTC on 1 June is 00:30 on 2 June in Amsterdam.
    view.apply_lastminute("after-midnight", offer("after-midnight", start=datetime(2025, 6, 1, 22, 30, tzinfo=UTC)))
    view.apply_lastminute("tonight", offer("tonight", start=datetime(2025, 6, 1, 18, 0, tzinfo=UTC)))

    def pids(days: set[date]) -> list[str]:
        return [d["performance_id"] for d in view.query_lastminute(
            LastMinuteQuery(days=frozenset(days), now=NOW))[0]]

    assert pids({date(2025, 6, 1)}) == ["tonight"]
    assert pids({date(2025, 6, 2)}) == ["after-midnight"]
    assert pids({date(2025, 6, 1), date(2025, 6, 2)}) == ["tonight", "after-midnight"]


def test_lastminute_min_remaining_and_region() -> None:
    view = View(100, seq_base=0)
    view.apply_lastminute("few", offer("few", remaining=2))
    view.apply_lastminute("many", offer("many", remaining=40, region="Gelderland"))
    items, _, _ = view.query_lastminute(LastMinuteQuery(min_remaining=3, now=NOW))
    assert [d["performance_id"] for d in items] == ["many"]
    items, _, _ = view.query_lastminute(LastMinuteQuery(region="gelderland", now=NOW))
    assert [d["performance_id"] for d in items] == ["many"]


def test_snapshot_position_is_the_last_change_included() -> None:
    view = View(100, seq_base=0)
    view.apply_lastminute("a", offer("a"))
    view.apply_availability("a", availability("a"))
    _, _, seq = view.query_lastminute(LastMinuteQuery(now=NOW))
    assert seq == 2


# -- resume -------------------------------------------------------------------------------


def _filled(n: int, ring: int = 100) -> View:
    view = View(ring, seq_base=0)
    for i in range(n):
        view.apply_availability(f"p{i % 3}", availability(f"p{i % 3}", version=i))
    return view


def test_resume_replays_every_change_after_the_last_event_id() -> None:
    view = _filled(10)
    plan = view.resume(6)
    assert not plan.reset and plan.position == 10
    assert [c.seq for c in plan.replay] == [7, 8, 9, 10]


def test_resume_at_the_head_replays_nothing() -> None:
    plan = _filled(10).resume(10)
    assert not plan.reset and plan.replay == []


def test_fresh_stream_starts_at_the_head() -> None:
    plan = _filled(10).resume(None)
    assert plan == type(plan)(10, [], False)


def test_last_event_id_older_than_the_ring_means_reset() -> None:
    view = _filled(250, ring=100)  # ring holds 151..250
    assert not view.resume(150).reset
    assert [c.seq for c in view.resume(150).replay][:2] == [151, 152]
    plan = view.resume(149)
    assert plan.reset and plan.replay == [] and plan.position == 250


def test_last_event_id_from_the_future_means_reset() -> None:
    assert _filled(10).resume(11).reset


@pytest.mark.parametrize("ring", [100, 1000])
def test_ring_keeps_at_most_its_size(ring: int) -> None:
    view = _filled(ring + 50, ring=ring)
    assert len(view.resume(50).replay) == ring


def test_sequence_of_a_restarted_gateway_is_above_the_previous_one() -> None:
    first = View(100)
    for i in range(5):
        first.apply_availability("p", availability("p", version=i))
    second = View(100)
    assert second.last_seq >= first.last_seq - 5  # same millisecond at worst
    assert second.resume(first.last_seq - 100).reset

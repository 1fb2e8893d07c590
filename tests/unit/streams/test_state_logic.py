"""Pure state logic of the stream processors: order independence and the rules."""

from __future__ import annotations

import itertools
import random

import pytest

from streams.attendance import state as at
from streams.availability import state as av
from streams.identity.crosswalk import Crosswalk, best_key, keys_of
from streams.lastminute.logic import offer_for
from streams.sales import state as sa

HOUR = 3600 * 1000


def ticket(fid: str, et: str, q: int = 1, t: int = 1000, src: str = "eventix", **kw) -> dict:
    return {"fact_id": fid, "event_type": et, "quantity": q, "event_time": t, "source_system": src,
            "source_account": "a", "ticket_type": kw.get("tt", "NORMAL"),
            "price_cents": kw.get("price", 2000), "channel": kw.get("channel", "web")}


def perf(t: int, capacity: int | None = 100, status: str = "SCHEDULED", start: int = 10 * HOUR) -> dict:
    return {"fact_id": f"p{t}", "event_time": t, "capacity": capacity, "status": status,
            "title": "Hamlet", "venue": {"name": "Schouwburg", "city": "Utrecht", "region": "Utrecht"},
            "genre": "toneel", "start": start, "url": None, "source_system": "dip", "source_account": "x"}


def snapshot(t: int, tickets: int, reservations: int = 0, blocked: int = 0, capacity: int | None = None) -> dict:
    return {"fact_id": f"s{t}", "event_time": t, "source_system": "dip-cumulative", "source_account": "v",
            "lines": [{"ticket_type": "NORMAL", "tickets": tickets, "revenue_cents": tickets * 1000}],
            "reservations": reservations, "blocked_seats": blocked, "capacity": capacity}


def record(st: dict, threshold: int = 10) -> dict:
    return av.availability_record("p", st, limited_threshold=threshold, now_ms=0)


def apply_all(facts: list[tuple[str, dict]]) -> dict:
    st = av.new_state()
    for kind, f in facts:
        {"ticket": av.apply_ticket, "snapshot": av.apply_snapshot, "perf": av.apply_calendar}[kind](st, f)
    return st


def test_a_cancellation_that_arrives_before_its_sale_still_nets_to_zero() -> None:
    st = apply_all([("perf", perf(1)), ("ticket", ticket("c", "CANCELLED", 2)), ("ticket", ticket("s", "SOLD", 2))])
    r = record(st)
    assert (r["sold"], r["refunded"], r["remaining"]) == (0, 2, 100)


def test_availability_does_not_depend_on_arrival_order() -> None:
    facts = [("perf", perf(5, capacity=30)), ("perf", perf(1, capacity=999)),
             ("ticket", ticket("a", "SOLD", 4)), ("ticket", ticket("b", "RESERVED", 3)),
             ("ticket", ticket("c", "RESERVATION_RELEASED", 1)), ("ticket", ticket("d", "BLOCKED", 2)),
             ("ticket", ticket("e", "REFUNDED", 1)), ("ticket", ticket("f", "UNBLOCKED", 1)),
             ("ticket", ticket("g", "SCANNED", 3))]
    results = set()
    for order in itertools.islice(itertools.permutations(facts), 0, None, 97):
        r = record(apply_all(list(order)))
        results.add((r["capacity"], r["sold"], r["reserved"], r["blocked"], r["remaining"], r["status"]))
    assert results == {(30, 3, 2, 1, 24, "AVAILABLE")}


@pytest.mark.parametrize("sold,expected", [(50, "AVAILABLE"), (90, "LIMITED"), (89, "AVAILABLE"),
                                           (100, "SOLD_OUT"), (120, "SOLD_OUT")])
def test_status_follows_the_remaining_seats(sold: int, expected: str) -> None:
    st = apply_all([("perf", perf(1)), ("ticket", ticket("a", "SOLD", sold))])
    r = record(st)
    assert r["status"] == expected
    assert r["remaining"] == max(100 - sold, 0)
    shapes = {"AVAILABLE": ("Available", "InStock"), "LIMITED": ("Available", "LimitedAvailability"),
              "SOLD_OUT": ("Unavailable", "SoldOut")}[expected]
    assert r["uit_booking_availability_type"] == shapes[0]
    assert r["schema_org_availability"] == "https://schema.org/" + shapes[1]


def test_a_cancelled_performance_is_cancelled_whatever_the_seats() -> None:
    st = apply_all([("perf", perf(1)), ("perf", perf(2, status="CANCELLED"))])
    assert record(st)["status"] == "CANCELLED"
    assert record(st)["uit_booking_availability_type"] == "Unavailable"


def test_the_latest_calendar_modification_wins_even_when_it_arrives_first() -> None:
    st = apply_all([("perf", perf(9, capacity=80)), ("perf", perf(3, capacity=500))])
    assert record(st)["capacity"] == 80


def test_a_snapshot_that_goes_backwards_is_a_refund_and_an_older_one_is_ignored() -> None:
    st = apply_all([("snapshot", snapshot(10, 40, reservations=5, capacity=100)),
                    ("snapshot", snapshot(20, 35, reservations=2)), ("snapshot", snapshot(15, 60))])
    r = record(st)
    assert (r["sold"], r["refunded"], r["reserved"], r["capacity"], r["remaining"]) == (35, 5, 2, 100, 63)


def test_a_snapshot_source_is_not_also_counted_by_its_events() -> None:
    s = snapshot(10, 40)
    st = apply_all([("perf", perf(1)), ("snapshot", s),
                    ("ticket", ticket("x", "SOLD", 3, src="dip-cumulative") | {"source_account": "v"}),
                    ("ticket", ticket("y", "SOLD", 2, src="eventix"))])
    assert record(st)["sold"] == 42


def test_capacity_unknown_means_status_unknown() -> None:
    st = apply_all([("ticket", ticket("a", "SOLD", 1))])
    r = record(st)
    assert (r["status"], r["remaining"], r["capacity"]) == ("UNKNOWN", None, None)


def test_attendance_counts_no_shows_only_after_the_start() -> None:
    st = at.new_state()
    at.apply(st, "performance", perf(1, start=5 * HOUR))
    for i, et in enumerate(["SOLD", "SOLD", "SOLD", "REFUNDED", "SCANNED"]):
        at.apply(st, "ticket", ticket(str(i), et, 2, t=(i + 1) * 1000))
    assert at.attendance_record("p", st, now_ms=4 * HOUR)["no_shows"] is None
    rec = at.attendance_record("p", st, now_ms=6 * HOUR)
    assert (rec["sold"], rec["scanned"], rec["no_shows"], rec["first_scan_time"]) == (4, 2, 2, 5000)


def test_sales_deltas_of_snapshots_sum_to_the_latest_cumulative() -> None:
    held = None
    total = 0
    for t, n in [(1, 10), (2, 25), (3, 22), (4, 30)]:
        deltas, hold = sa.snapshot_deltas(held, snapshot(t, n))
        total += sum(d[2] for d in deltas)
        held = hold
    assert total == 30
    assert sa.snapshot_deltas(held, snapshot(2, 99)) == ([], None)


def test_sales_windows_are_utc_hours_and_days() -> None:
    t = 3 * 24 * HOUR + 5 * HOUR + 123
    assert sa.windows_of(t) == [("HOUR", 3 * 24 * HOUR + 5 * HOUR), ("DAY", 3 * 24 * HOUR)]
    assert sa.ticket_deltas(ticket("r", "REFUNDED", 2, price=1500)) == [("NORMAL", "web", -2, -3000)]


def test_lastminute_offers_only_what_starts_soon_and_has_seats() -> None:
    base = {"performance_id": "p", "capacity": 100, "remaining": 5, "status": "LIMITED", "start": 10 * HOUR}
    assert offer_for(base, now_ms=0, window_ms=48 * HOUR)["remaining"] == 5
    assert offer_for(base, now_ms=11 * HOUR, window_ms=48 * HOUR) is None  # started
    assert offer_for(base | {"start": 60 * HOUR}, now_ms=0, window_ms=48 * HOUR) is None  # too far
    assert offer_for(base | {"remaining": 0, "status": "SOLD_OUT"}, now_ms=0, window_ms=48 * HOUR) is None
    assert offer_for(base | {"status": "CANCELLED"}, now_ms=0, window_ms=48 * HOUR) is None


def test_crosswalk_is_deterministic_whichever_calendar_fact_comes_first() -> None:
    facts = [
        {"performance_key": "vendor:tm:x|123", "identifiers": [{"namespace": "dip", "value": "NL-1|3"}]},
        {"performance_key": "dip|NL-1|3", "identifiers": []},
        {"performance_key": "uit|u#0", "identifiers": [{"namespace": "dip", "value": "NL-1|3"}]},
    ]
    outcomes = set()
    for order in itertools.permutations(facts):
        cw = Crosswalk()
        canon = {cw.learn(keys_of(f))[0] for f in order}
        outcomes.add((frozenset(canon), cw.resolve(["vendor:tm:x|123"]), cw.resolve(["uit|u#0"])))
    assert outcomes == {(frozenset({"dip|NL-1|3"}), "dip|NL-1|3", "dip|NL-1|3")}
    assert best_key(["vendor:a|1", "uit|x#0", "dip|P|1"]) == "dip|P|1"
    assert Crosswalk().resolve(["vendor:a|1"]) is None


def test_random_streams_with_redelivery_match_a_straight_count() -> None:
    rnd = random.Random(3)
    facts = [ticket(f"f{i}", rnd.choice(["SOLD", "SOLD", "REFUNDED", "RESERVED", "RESERVATION_RELEASED"]),
                    rnd.randint(1, 4)) for i in range(300)]
    expected_sold = sum(f["quantity"] * (1 if f["event_type"] == "SOLD" else -1 if f["event_type"] == "REFUNDED" else 0)
                        for f in facts)
    delivered = facts + rnd.sample(facts, 80)
    rnd.shuffle(delivered)
    st = av.new_state()
    seen: set[str] = set()
    for f in delivered:
        if f["fact_id"] in seen:
            continue
        seen.add(f["fact_id"])
        av.apply_ticket(st, f)
    assert av.totals(st)["sold"] == expected_sold


def test_a_newer_calendar_without_capacity_keeps_the_known_capacity() -> None:
    st = apply_all([("perf", perf(1, capacity=300)), ("perf", perf(5, capacity=None))])
    assert record(st)["capacity"] == 300

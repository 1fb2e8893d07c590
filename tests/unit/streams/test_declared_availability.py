"""Declared availability (issue #13 item 2): published where no ticketing source is
connected, compared with the computed figure where one is, a drift past the threshold
reconciled like a statement against a ledger."""

from __future__ import annotations

from typing import Any

from streams.availability import declared as decl
from streams.availability import state as av

MIN = 60_000


def uit(t: int, *, status: str = "AVAILABLE", capacity: int | None = 200,
        remaining: int | None = None, key: str = "uit|e#0", cal_status: str = "SCHEDULED") -> dict[str, Any]:
    return {"fact_id": f"uit{t}", "event_time": t, "capacity": capacity, "status": cal_status,
            "title": "Hamlet", "venue": {"name": "deSingel"}, "start": 100 * MIN, "url": None,
            "source_system": "uitdatabank", "source_account": "cultuurnet", "performance_key": key,
            "declared": {"status": status, "capacity": capacity, "remaining": remaining,
                         "source_field": "subEvent[0].bookingAvailability", "as_of": t}}


def sale(fid: str, t: int, q: int = 1) -> dict[str, Any]:
    return {"fact_id": fid, "event_type": "SOLD", "quantity": q, "event_time": t,
            "source_system": "ticketmatic", "source_account": "acme", "performance_key": "vendor:x|1"}


def play(*facts: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    st = av.new_state()
    for kind, f in facts:
        if kind == "ticket":
            av.apply_ticket(st, f)
        elif kind == "performance":
            av.apply_calendar(st, f)
        decl.apply_declared(st, kind, f)
    return st


def published(st: dict[str, Any]) -> dict[str, Any]:
    return decl.availability("p", st, limited_threshold=10, now_ms=0)


def test_a_date_declared_sold_out_without_ticketing_is_sold_out_on_the_bus() -> None:
    rec = published(play(("performance", uit(1, status="SOLD_OUT"))))
    assert (rec["status"], rec["basis"], rec["uit_booking_availability_type"]) == (
        "SOLD_OUT", "declared", "Unavailable")
    assert rec["schema_org_availability"] == "https://schema.org/SoldOut"


def test_a_declared_remaining_without_ticketing_is_the_remaining_and_sets_the_status() -> None:
    assert (published(play(("performance", uit(1, remaining=150))))["remaining"],
            published(play(("performance", uit(1, remaining=150))))["status"]) == (150, "AVAILABLE")
    assert published(play(("performance", uit(1, remaining=4))))["status"] == "LIMITED"


def test_the_newest_declaration_wins_whatever_the_order() -> None:
    old, new = ("performance", uit(1, status="SOLD_OUT")), ("performance", uit(2, remaining=30))
    for order in ((old, new), (new, old)):
        rec = published(play(*order))
        assert (rec["remaining"], rec["status"], rec["declared_remaining"]) == (30, "AVAILABLE", 30)


def test_a_cancelled_show_stays_cancelled_whatever_is_declared() -> None:
    rec = published(play(("performance", uit(1, remaining=50, cal_status="CANCELLED"))))
    assert rec["status"] == "CANCELLED"


def test_where_ticketing_is_connected_the_computed_figure_is_published_and_compared() -> None:
    st = play(("performance", uit(1, remaining=200)), ("ticket", sale("s1", 2, 3)),
              ("performance", uit(5, remaining=190)))
    rec = published(st)
    assert (rec["basis"], rec["remaining"], rec["declared_remaining"], rec["drift"]) == (
        "computed", 197, 190, 7)


def test_a_vendor_keyed_event_counts_as_connected_ticketing_before_its_first_sale() -> None:
    tm = {**uit(1, remaining=150, key="vendor:ticketmatic:acme|101"), "source_system": "ticketmatic"}
    rec = published(play(("performance", uit(0, capacity=200)), ("performance", tm)))
    assert (rec["basis"], rec["remaining"], rec["drift"]) == ("computed", 200, 50)


def test_a_declaration_older_than_the_last_sale_is_not_compared() -> None:
    st = play(("performance", uit(1, remaining=150)), ("ticket", sale("s1", 2, 3)))
    assert published(st)["drift"] is None


def test_a_drift_past_the_threshold_is_reconciled_once_and_resolved_when_it_agrees() -> None:
    st = play(("ticket", sale("s1", 1, 10)), ("performance", uit(2, remaining=150)))
    found = decl.reconcile("p", st, published(st), drift_seats=5, now_ms=9)
    assert found is not None and (found["state"], found["drift"], found["computed_remaining"],
                                  found["declared_remaining"], found["declared_source"]) == (
        "DRIFT", 40, 190, 150, "uitdatabank/cultuurnet")
    assert decl.in_drift(st)
    assert decl.reconcile("p", st, published(st), drift_seats=5, now_ms=10) is None  # nothing new
    decl.apply_declared(st, "performance", uit(3, remaining=187))
    resolved = decl.reconcile("p", st, published(st), drift_seats=5, now_ms=11)
    assert resolved is not None and (resolved["state"], resolved["drift"]) == ("RESOLVED", 3)
    assert not decl.in_drift(st)


def test_a_drift_within_the_threshold_is_no_reconciliation() -> None:
    st = play(("ticket", sale("s1", 1, 5)), ("performance", uit(2, remaining=200)))
    assert published(st)["drift"] == -5
    assert decl.reconcile("p", st, published(st), drift_seats=5, now_ms=0) is None

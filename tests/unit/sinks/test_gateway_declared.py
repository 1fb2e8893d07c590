"""The gateway's availability JSON says what remaining rests on and what was declared."""

from __future__ import annotations

from sinks.gateway.shapes import availability_doc

REC = {"performance_id": "uit|e#1", "capacity": 250, "sold": 0, "remaining": 0, "status": "SOLD_OUT",
       "uit_booking_availability_type": "Unavailable", "updated_at": 0, "basis": "declared",
       "declared_status": "SOLD_OUT", "declared_remaining": 0, "declared_source": "uitdatabank/cultuurnet",
       "declared_at": 1_767_225_600_000, "drift": None}


def test_a_declared_sold_out_date_shows_its_basis_declaration_and_remaining_capacity() -> None:
    doc = availability_doc(REC)
    assert doc["bookingAvailability"] == {"type": "Unavailable", "capacity": 250, "remainingCapacity": 0}
    assert doc["basis"] == "declared"
    assert doc["declared"] == {"status": "SOLD_OUT", "remaining": 0, "source": "uitdatabank/cultuurnet",
                               "at": "2026-01-01T00:00:00.000Z", "drift": None}


def test_a_record_without_a_declaration_is_computed_with_no_declared_block() -> None:
    doc = availability_doc({"performance_id": "p", "status": "AVAILABLE", "updated_at": 0})
    assert (doc["basis"], doc["declared"]) == ("computed", None)

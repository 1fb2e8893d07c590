"""What a contract value may hold beyond what fastavro checks (``bus.ranges``)."""

from __future__ import annotations

import pytest

from bus.codec import decode_header
from bus.errors import SerializationError
from bus.ranges import TIME_MAX_MS, TIME_MIN_MS, OutOfRangeError, contract_check
from schemas import load_schema

TICKET = {"fact_id": "f", "event_time": 1_770_000_000_000, "ingested_at": 1_770_000_000_000, "quantity": 2,
          "price_cents": 1850, "identifiers": [], "buyer": {"id_hash": "ab" * 32, "birth_year": 1980}}


def test_a_ticket_within_the_contract_passes() -> None:
    contract_check(load_schema("ticket_event.avsc"))(TICKET)


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"event_time": 253_402_300_800_000}, "event_time", "year 10000"),
    ({"event_time": TIME_MAX_MS + 1}, "event_time", "2300-01-01"),
    ({"ingested_at": TIME_MIN_MS - 1}, "ingested_at", "1969-12-31"),
    ({"quantity": 2**31}, "quantity", "Avro int"),
    ({"price_cents": -(2**63) - 1}, "price_cents", "Avro long"),
    ({"buyer": {"id_hash": "x", "birth_year": -(2**40)}}, "buyer.birth_year", "Avro int"),
])
def test_a_value_its_type_cannot_carry_is_refused_naming_the_field(change: dict[str, object], field: str,
                                                                  says: str) -> None:
    with pytest.raises(OutOfRangeError, match=says) as caught:
        contract_check(load_schema("ticket_event.avsc"))({**TICKET, **change})
    assert caught.value.field == field
    assert isinstance(caught.value, SerializationError)
    assert "send" in str(caught.value)  # what to do


def test_nested_arrays_name_the_element() -> None:
    check = contract_check(load_schema("sales_snapshot.avsc"))
    snap = {"event_time": 1, "ingested_at": 1, "lines": [
        {"ticket_type": "NORMAL", "tickets": 1, "revenue_cents": 1},
        {"ticket_type": "NORMAL", "tickets": 2**32, "revenue_cents": 1}]}
    with pytest.raises(OutOfRangeError) as caught:
        check(snap)
    assert caught.value.field == "lines[1].tickets"


def test_a_record_to_be_written_may_leave_out_nullable_fields() -> None:
    contract_check(load_schema("availability.avsc"))({"sold": 1, "updated_at": 0, "version": 1})


@pytest.mark.parametrize("data", [None, b"", b"\x00\x00", "not bytes"])
def test_anything_but_wire_bytes_is_a_serialization_error(data: object) -> None:
    with pytest.raises(SerializationError, match="too short"):
        decode_header(data)  # type: ignore[arg-type]

"""The serde speaks the Confluent wire format against the real registry."""

from __future__ import annotations

import copy
import io
import struct
import uuid

import fastavro
import pytest

from bus.errors import SchemaIncompatibleError, SerializationError
from bus.serde import AvroDeserializer, AvroSerializer, Registry
from schemas import load_schema
from schemas.models import Identifier, TicketEvent, TicketEventType, TicketType, utcnow
from tests.support.wire import YEAR_10000_MS, wire

pytestmark = pytest.mark.integration


def _event() -> TicketEvent:
    now = utcnow()
    return TicketEvent(
        fact_id="eventix:abc:1", event_type=TicketEventType.SOLD, event_time=now,
        ingested_at=now, source_system="eventix", source_account="acc",
        performance_key="vendor:eventix:acc:ev-1",
        identifiers=[Identifier(namespace="dip", value="NL-23-1234-5|1")], quantity=2,
        ticket_type=TicketType.DISCOUNT, price_cents=1750, order_id="o-1", channel="web",
    )


def test_round_trip_gives_back_the_same_model(registry: Registry) -> None:
    topic = f"serde-{uuid.uuid4().hex[:6]}"
    ser = AvroSerializer(registry, topic, "ticket_event.avsc")
    de = AvroDeserializer(registry, "ticket_event.avsc")
    ev = _event()
    assert TicketEvent.from_avro(de(ser(ev))) == ev


def test_wire_bytes_are_magic_zero_schema_id_then_the_fastavro_body(registry: Registry) -> None:
    topic = f"serde-{uuid.uuid4().hex[:6]}"
    ser = AvroSerializer(registry, topic, "ticket_event.avsc")
    ev = _event()
    data = ser(ev)
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(load_schema("ticket_event.avsc")),
                               ev.to_avro())
    assert data == struct.pack(">bI", 0, ser.schema_id) + body.getvalue()
    # The id is the registry's: it serves our schema back under that id.
    fetched = registry._client.get_schema(ser.schema_id)
    assert "TicketEvent" in fetched.schema_str


def test_garbage_bytes_get_a_clear_error(registry: Registry) -> None:
    de = AvroDeserializer(registry)
    with pytest.raises(SerializationError, match="magic byte"):
        de(b'{"json": "not avro"}')
    with pytest.raises(SerializationError, match="too short"):
        de(b"\x00\x01")


def test_a_record_of_another_schema_is_a_clear_serialization_error(registry: Registry) -> None:
    """E.g. a ticket event produced onto the availability topic: the reader names both
    schemas instead of raising fastavro's own exception (which would stop a consumer)."""
    ser = AvroSerializer(registry, f"serde-{uuid.uuid4().hex[:6]}", "ticket_event.avsc")
    de = AvroDeserializer(registry, "availability.avsc")
    with pytest.raises(SerializationError, match=r"TicketEvent.*does not resolve.*Availability"):
        de(ser(_event()))


def test_incompatible_schema_change_is_rejected_by_the_registry(registry: Registry) -> None:
    subject = f"compat-{uuid.uuid4().hex[:6]}-value"
    schema = load_schema("attendance.avsc")
    registry.register(subject, schema)
    assert registry.get_compatibility() == "BACKWARD"
    breaking = copy.deepcopy(schema)
    breaking["fields"].append({"name": "seat_rank", "type": "string", "doc": "no default"})
    assert registry.is_compatible(subject, breaking) is False
    with pytest.raises(SchemaIncompatibleError):
        registry.register(subject, breaking)
    evolving = copy.deepcopy(schema)
    evolving["fields"].append({"name": "seat_rank", "type": ["null", "string"],
                               "default": None, "doc": "with default"})
    assert registry.is_compatible(subject, evolving) is True
    assert registry.register(subject, evolving) != registry.register(subject, schema)


def test_reader_schema_resolves_an_older_writer(registry: Registry) -> None:
    subject_topic = f"evolve-{uuid.uuid4().hex[:6]}"
    old = load_schema("attendance.avsc")
    old["fields"] = [f for f in old["fields"] if f["name"] != "start"]
    ser_old = AvroSerializer(registry, subject_topic, old)
    now = utcnow()
    data = ser_old({"performance_id": "p1", "scanned": 3, "sold": 5, "no_shows": None,
                    "first_scan_time": now, "last_scan_time": now, "updated_at": now})
    rec = AvroDeserializer(registry, "attendance.avsc")(data)
    assert rec is not None and rec["scanned"] == 3 and rec["start"] is None




def test_a_state_record_of_year_10000_is_a_serialization_error_not_an_overflow(registry: Registry) -> None:
    record = {"performance_id": "p", "capacity": 10, "sold": 1, "reserved": 0, "blocked": 0, "refunded": 0,
              "remaining": 9, "status": "AVAILABLE", "uit_booking_availability_type": "Available",
              "schema_org_availability": "https://schema.org/InStock", "title": None, "venue_name": None,
              "city": None, "region": None, "genre": None, "start": None, "last_fact_time": YEAR_10000_MS,
              "updated_at": 1_770_000_000_000, "version": 1}
    raw = wire(registry, f"serde-{uuid.uuid4().hex[:6]}", "availability.avsc", record)
    with pytest.raises(SerializationError, match="cannot decode"):
        AvroDeserializer(registry, "availability.avsc")(raw)
    with pytest.raises(SerializationError, match="cannot decode"):
        AvroDeserializer(registry)(raw)


@pytest.mark.parametrize("cut", [6, 12, 30])
def test_truncated_bytes_are_a_serialization_error(registry: Registry, cut: int) -> None:
    raw = AvroSerializer(registry, f"serde-{uuid.uuid4().hex[:6]}", "ticket_event.avsc")(_event())
    assert raw is not None
    with pytest.raises(SerializationError):
        AvroDeserializer(registry, "ticket_event.avsc")(raw[:cut])


def test_a_schema_id_the_registry_does_not_know_is_a_permanent_serialization_error(registry: Registry) -> None:
    raw = b"\x00" + struct.pack(">I", 987_654_321) + b"body"
    with pytest.raises(SerializationError, match="does not know schema id 987654321"):
        AvroDeserializer(registry, "ticket_event.avsc")(raw)


def test_the_fast_readers_refuse_times_and_ints_the_contract_cannot_carry(registry: Registry) -> None:
    from bus.codec import ContractReader, FactReader

    topic = f"serde-{uuid.uuid4().hex[:6]}"
    good = _event().to_avro()
    good = {k: int(v.timestamp() * 1000) if hasattr(v, "timestamp") else v for k, v in good.items()}
    assert FactReader(registry)(wire(registry, topic, "ticket_event.avsc", good))[0] == "ticket"
    for field, value in [("event_time", YEAR_10000_MS), ("ingested_at", -1), ("quantity", 2**31)]:
        raw = wire(registry, topic, "ticket_event.avsc", {**good, field: value})
        for read in (FactReader(registry), ContractReader(registry, "ticket_event.avsc"),
                     FactReader(registry, compiled=True), ContractReader(registry, "ticket_event.avsc",
                                                                         compiled=True)):
            with pytest.raises(SerializationError, match=field) as caught:
                read(raw)
            assert getattr(caught.value, "field", None) == field


def test_a_reader_without_fields_skips_them_and_reads_the_rest_alike(registry: Registry) -> None:
    """The ClickHouse sink reads ticket facts without order and ticket ids (it never stores
    them): those are absent, every other field is what the full reader gives, compiled or not."""
    from bus.codec import ContractReader, FactReader

    topic = f"serde-{uuid.uuid4().hex[:6]}"
    good = _event().to_avro()
    good = {k: int(v.timestamp() * 1000) if hasattr(v, "timestamp") else v for k, v in good.items()}
    raw = wire(registry, topic, "ticket_event.avsc", {**good, "ticket_ids": ["t-1", "t-2"]})
    unread = ("identifiers", "order_id", "ticket_ids")
    full = ContractReader(registry, "ticket_event.avsc")(raw)
    assert full["order_id"] == "o-1" and full["ticket_ids"] == ["t-1", "t-2"]
    for compiled in (False, True):
        kind, rec = FactReader(registry, compiled=compiled, without={"ticket": unread})(raw)
        assert kind == "ticket"
        assert rec == {k: v for k, v in full.items() if k not in unread}
    with pytest.raises(ValueError, match="no field order_number"):
        ContractReader(registry, "ticket_event.avsc", without=("order_number",))

"""The streams worker's own Avro codec against the project's serde, with the real registry."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from bus.serde import AvroDeserializer, AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, TICKET_EVENTS
from schemas import load_schema
from schemas.models import Buyer, Identifier, TicketEvent
from streams.codec import FactCodec

pytestmark = [pytest.mark.integration]

T = datetime(2026, 3, 14, 19, 30, 15, 123000, tzinfo=UTC)


def ticket() -> TicketEvent:
    vendor = Identifier.vendor("eventix", "stadsschouwburg", "ev-1")
    return TicketEvent(fact_id="eventix:o1:t1", event_time=T, ingested_at=T, source_system="eventix",
                       source_account="stadsschouwburg", performance_key=vendor.key,
                       identifiers=[vendor, Identifier.dip("NL-24-0001-2", 3)], event_type="SOLD", quantity=2,
                       ticket_type="DISCOUNT", price_cents=1850, order_id="o1", ticket_ids=["t1", "t2"],
                       channel="web", buyer=Buyer(id_hash="ab" * 32, postcode_area="3511", birth_year=1980))


def ms(value: object) -> object:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else value


def test_a_fact_reads_as_the_serde_reads_it_with_times_in_milliseconds(topics: Settings,
                                                                       registry: Registry) -> None:
    raw = AvroSerializer(registry, topics.topic_prefix + TICKET_EVENTS, "ticket_event.avsc")(ticket())
    kind, rec = FactCodec(registry, topics.topic_prefix).decode(raw)
    reference = AvroDeserializer(registry, "ticket_event.avsc")(raw)
    assert kind == "ticket"
    assert reference is not None
    assert rec == {k: ms(v) for k, v in reference.items()}
    assert rec["event_time"] == int(T.timestamp() * 1000)


def test_a_fact_written_with_an_older_schema_reads_into_the_current_contract(topics: Settings,
                                                                            registry: Registry) -> None:
    older = copy.deepcopy(load_schema("ticket_event.avsc"))
    older["fields"] = [f for f in older["fields"] if f["name"] not in ("channel", "buyer")]
    record = ticket().to_avro()
    del record["channel"], record["buyer"]
    raw = AvroSerializer(registry, topics.topic_prefix + "codec-test.older-tickets", older)(record)
    kind, rec = FactCodec(registry, topics.topic_prefix).decode(raw)
    assert kind == "ticket"
    assert (rec["channel"], rec["buyer"], rec["quantity"]) == (None, None, 2)


def test_a_derived_record_is_the_bytes_the_serde_writes(topics: Settings, registry: Registry) -> None:
    rec = {"performance_id": "dip|NL-24-0001-2|3", "capacity": 500, "sold": 12, "reserved": 1, "blocked": 0,
           "refunded": 2, "remaining": 487, "status": "AVAILABLE", "uit_booking_availability_type": "Available",
           "schema_org_availability": "https://schema.org/InStock", "title": "Hamlet",
           "venue_name": "Stadsschouwburg", "city": "Utrecht", "region": "Utrecht", "genre": "toneel",
           "start": int(T.timestamp() * 1000), "last_fact_time": int(T.timestamp() * 1000),
           "updated_at": int(T.timestamp() * 1000), "version": 15}
    ours = FactCodec(registry, topics.topic_prefix).encode(AVAILABILITY, "availability.avsc", rec)
    serde = AvroSerializer(registry, topics.topic_prefix + AVAILABILITY, "availability.avsc")(rec)
    assert ours == serde
    back = AvroDeserializer(registry, "availability.avsc")(ours)
    assert back is not None and back["start"] == T and back["sold"] == 12

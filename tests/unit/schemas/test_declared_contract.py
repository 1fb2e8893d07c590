"""The declared-availability fields are a BACKWARD-compatible change: records written
before them are still read, with the new fields at their defaults."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest

from schemas import load_schema
from schemas.models import Availability, DeclaredAvailability, Performance, SalesSnapshot

NEW = {"performance.avsc": ["declared"], "sales_snapshot.avsc": ["declared"],
       "availability.avsc": ["basis", "declared_status", "declared_remaining", "declared_source",
                             "declared_at", "drift"]}
T = datetime(2026, 3, 1, 19, 30, tzinfo=UTC)


def _roundtrip(writer: dict[str, Any], reader: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(writer), record)
    buf.seek(0)
    return fastavro.schemaless_reader(buf, fastavro.parse_schema(writer), fastavro.parse_schema(reader))


def _performance(**kw: Any) -> Performance:
    return Performance(fact_id="f", event_time=T, ingested_at=T, source_system="uitdatabank",
                       source_account="a", performance_key="uit|x#0", title="Hamlet",
                       venue={"id": "v", "name": "deSingel"}, start=T, **kw)


@pytest.mark.parametrize("schema_file", sorted(NEW))
def test_a_record_written_before_declared_availability_is_read_with_the_defaults(schema_file: str) -> None:
    new = load_schema(schema_file)
    old = {**new, "fields": [f for f in new["fields"] if f["name"] not in NEW[schema_file]]}
    record = {
        "performance.avsc": lambda: _performance().to_avro(),
        "sales_snapshot.avsc": lambda: SalesSnapshot(
            fact_id="f", event_time=T, ingested_at=T, source_system="stager", source_account="a",
            performance_key="vendor:stager:a|1").to_avro(),
        "availability.avsc": lambda: Availability(performance_id="p", status="AVAILABLE",
                                                  updated_at=T).to_avro(),
    }[schema_file]()
    for name in NEW[schema_file]:
        record.pop(name)
    got = _roundtrip(old, new, record)
    assert {n: got[n] for n in NEW[schema_file]} == {
        n: ("computed" if n == "basis" else None) for n in NEW[schema_file]}


def test_a_declared_sold_out_survives_the_wire() -> None:
    perf = _performance(declared=DeclaredAvailability(status="SOLD_OUT", capacity=200, remaining=0,
                                                      source_field="subEvent[1].bookingAvailability",
                                                      as_of=T))
    schema = load_schema("performance.avsc")
    got = _roundtrip(schema, schema, perf.to_avro())
    assert Performance.from_avro(got).declared == perf.declared

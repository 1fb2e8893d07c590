"""Every number and time a model accepts fits its Avro field, so a connector can never
acknowledge a fact that the serializer or a reader later refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from schemas import MODELS, load_schema
from schemas.candidate import CandidateDescription
from schemas.models import (
    TIMESTAMP_MAX,
    TIMESTAMP_MIN,
    Buyer,
    DeclaredAvailability,
    Identifier,
    SnapshotLine,
    Venue,
)

NESTED = {"Buyer": Buyer, "SnapshotLine": SnapshotLine, "Identifier": Identifier, "Venue": Venue,
          "DeclaredAvailability": DeclaredAvailability, "CandidateDescription": CandidateDescription}


def _primitive(avro: Any) -> tuple[Any, Any]:
    if isinstance(avro, list):
        avro = next(t for t in avro if t != "null")
    if isinstance(avro, dict) and avro.get("logicalType") == "timestamp-millis":
        return "timestamp", None
    if isinstance(avro, dict) and avro.get("type") in ("record", "array"):
        return avro["type"], avro
    return avro, None


def _fields(schema: dict[str, Any], model: type[BaseModel]) -> list[tuple[str, str, TypeAdapter[Any]]]:
    out = []
    for f in schema["fields"]:
        kind, nested = _primitive(f["type"])
        if kind == "array" and isinstance(nested["items"], dict) and nested["items"]["type"] == "record":
            kind, nested = "record", nested["items"]
        if kind == "record":
            sub = NESTED[nested["name"]]
            out += [(f"{f['name']}.{n}", k, a) for n, k, a in _fields(nested, sub)]
        elif kind in ("int", "long", "timestamp"):
            info = model.model_fields[f["name"]]
            out.append((f["name"], kind, TypeAdapter(Annotated[info.annotation, info])))
    return out


CASES = [(schema, *field) for schema, model in MODELS.items()
         for field in _fields(load_schema(schema), model)]


@pytest.mark.parametrize(("schema", "field", "kind", "adapter"), CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_a_value_the_avro_field_cannot_carry_is_refused_by_the_model(
        schema: str, field: str, kind: str, adapter: TypeAdapter[Any]) -> None:
    too_big = {"int": 2**31, "long": 2**63, "timestamp": TIMESTAMP_MAX + timedelta(milliseconds=1)}[kind]
    too_small = {"int": -(2**31) - 1, "long": -(2**63) - 1,
                 "timestamp": TIMESTAMP_MIN - timedelta(milliseconds=1)}[kind]
    for value in (too_big, too_small):
        with pytest.raises(ValidationError):
            adapter.validate_python(value)


def test_the_time_that_took_the_gateway_down_is_refused() -> None:
    from schemas.models import TicketEvent

    when = datetime.fromisoformat("9999-12-31T23:59:59-12:00")
    now = datetime.now(UTC)
    with pytest.raises(ValidationError, match="event_time"):
        TicketEvent(fact_id="f", event_time=when, ingested_at=now, source_system="eventix",
                    source_account="a", performance_key="k", event_type="SOLD", quantity=1)


def test_every_int_long_and_timestamp_field_is_covered() -> None:
    assert len(CASES) >= 40
    assert {"int", "long", "timestamp"} == {c[2] for c in CASES}

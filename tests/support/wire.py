"""Records in the Confluent wire format written with fastavro directly, as a producer
outside the project's serde would (a broken one included): no model checks the values,
so a test can put on a topic what the models refuse (year 10000, a count past 32 bits)."""

from __future__ import annotations

import io
import struct
from datetime import datetime
from typing import Any

import fastavro

from bus.codec import without_logical_types
from bus.serde import AvroSerializer, Registry
from schemas import load_schema

__all__ = ["YEAR_10000_MS", "epoch_ms", "wire"]

#: 9999-12-31T23:59:59-12:00 is 10000-01-01T11:59:59Z; this is its midnight.
YEAR_10000_MS = 253_402_300_800_000


def epoch_ms(value: Any) -> Any:
    """A datetime as int milliseconds since the epoch; any other value as it is."""
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else value


def wire(registry: Registry, topic: str, schema_file: str, record: dict[str, Any]) -> bytes:
    """``record`` under the contract's registered id (subject of ``topic``), written with
    fastavro and int-ms times (datetimes converted): no model checks its values."""
    schema_id = AvroSerializer(registry, topic, schema_file).schema_id
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, schema_id))
    fastavro.schemaless_writer(buf, fastavro.parse_schema(without_logical_types(load_schema(schema_file))),
                               {k: epoch_ms(v) for k, v in record.items()})
    return buf.getvalue()

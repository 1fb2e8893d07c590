"""Kafka records -> rows: Avro decoding (fastavro through ``bus.serde``) then ``rows``.

Which fact a record on ``participation.facts`` holds is read from its writer schema
(cached per schema id), not trusted from the ``cultuurbus.kind`` header alone.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import fastavro
from fastavro.read import SchemaResolutionError

from bus.errors import SchemaRegistryError, SerializationError
from bus.serde import Registry, decode_header
from bus.topics import ATTENDANCE, AVAILABILITY, FACTS, IDENTITY, LASTMINUTE, SALES, UNMATCHED
from schemas import load_schema
from sinks.clickhouse.errors import MappingError
from sinks.clickhouse.rows import (
    FACT_MAPPERS,
    Row,
    Source,
    attendance_row,
    availability_row,
    identity_row,
    lastminute_row,
    sales_window_row,
    unmatched_row,
)

__all__ = ["DERIVED_TOPICS", "FACT_TOPICS", "KIND_HEADER", "RecordDecoder", "Skip"]

KIND_HEADER = "cultuurbus.kind"
_FACT_SCHEMAS = {"ticket": "ticket_event.avsc", "snapshot": "sales_snapshot.avsc",
                 "performance": "performance.avsc"}
_KIND_OF_NAME = {"TicketEvent": "ticket", "SalesSnapshot": "snapshot", "Performance": "performance"}

#: Derived (compacted) topics: unprefixed name -> (reader schema, mapper).
DERIVED_TOPICS: dict[str, tuple[str, Callable[[Any, Source], Row]]] = {
    AVAILABILITY: ("availability.avsc", availability_row),
    ATTENDANCE: ("attendance.avsc", attendance_row),
    SALES: ("sales_window.avsc", sales_window_row),
    LASTMINUTE: ("lastminute_offer.avsc", lastminute_row),
    IDENTITY: ("identity_link.avsc", identity_row),
}
_HEADER_SIZE = 5  # Confluent wire format: magic byte + 4-byte schema id
#: Topics carrying raw fact bytes of any kind.
FACT_TOPICS = (FACTS, UNMATCHED)


def _unknown_schema(exc: BaseException) -> bool:
    cause = exc.__cause__
    return getattr(cause, "http_status_code", None) == 404 or getattr(cause, "error_code", None) in (
        40403, 40401)


def _millis(schema: Any) -> Any:
    """A copy of a (parsed) schema whose ``timestamp-millis`` fields read as plain longs.

    The sink writes timestamps as epoch milliseconds (the ticks of ``DateTime64(3)``), so
    building a datetime per field while decoding, only for the insert to take it apart
    again, is work for nothing. Other logical types are kept.
    """
    if isinstance(schema, dict):
        out = {k: _millis(v) for k, v in schema.items() if not k.startswith("__")}
        if out.get("logicalType") == "timestamp-millis":
            del out["logicalType"]
        return out
    if isinstance(schema, list):
        return [_millis(x) for x in schema]
    return schema


class _Reader:
    """Decodes into one reader schema, timestamps as epoch milliseconds; skips schema
    resolution (a third of the decoding time) when the writer schema is the reader
    schema, which is the usual case.
    """

    def __init__(self, registry: Registry, schema_file: str) -> None:
        self._registry = registry
        self._schema = fastavro.parse_schema(load_schema(schema_file))
        self._reader = fastavro.parse_schema(_millis(load_schema(schema_file)))
        # header (magic byte + schema id, as bytes) -> (writer, reader or None): a known
        # header needs no parsing, an unknown one is checked by ``decode_header``
        self._plans: dict[bytes, tuple[Any, Any]] = {}

    def __call__(self, value: bytes) -> dict[str, Any] | None:
        plan = self._plans.get(value[:_HEADER_SIZE])
        if plan is None:
            plan = self._plan(value)
        buf = io.BytesIO(value)
        buf.seek(_HEADER_SIZE)
        try:
            return fastavro.schemaless_reader(buf, plan[0], plan[1])  # type: ignore[return-value]
        except SchemaResolutionError as exc:
            raise SerializationError(f"schema id {decode_header(value)} does not resolve to the "
                                     f"reader schema of this topic: {str(exc)[:200]}") from exc
        except (EOFError, ValueError, TypeError, IndexError, StopIteration) as exc:
            raise SerializationError(f"cannot decode {len(value)} bytes with schema id "
                                     f"{decode_header(value)}: {exc}") from exc

    def _plan(self, value: bytes) -> tuple[Any, Any]:
        schema_id = decode_header(value)
        writer = self._registry.writer_schema(schema_id)
        plan = self._plans[value[:_HEADER_SIZE]] = (
            fastavro.parse_schema(_millis(writer)), None if writer == self._schema else self._reader)
        return plan


@dataclass(frozen=True)
class Skip:
    """A record deliberately not written (a tombstone on a compacted state topic)."""

    reason: str


class RecordDecoder:
    """Turns one Kafka record of a sink topic into a :class:`Row` or a :class:`Skip`.

    Args:
        registry: where writer schemas come from (cached per id).
        topic_prefix: ``settings.topic_prefix``; records name prefixed topics.

    Raises (from :meth:`decode`):
        SchemaRegistryError: the registry cannot be reached (retriable, not the record's fault).
        SerializationError, MappingError: the record is bad (dead-letter it).

    """

    def __init__(self, registry: Registry, topic_prefix: str = "") -> None:
        self._registry = registry
        self._prefix = topic_prefix
        self._fact_readers = {k: _Reader(registry, f) for k, f in _FACT_SCHEMAS.items()}
        self._derived = {topic_prefix + t: (_Reader(registry, schema), mapper)
                         for t, (schema, mapper) in DERIVED_TOPICS.items()}
        self._facts = topic_prefix + FACTS
        self._unmatched = topic_prefix + UNMATCHED
        self._kind_of_header: dict[bytes, str] = {}  # magic byte + schema id -> kind

    def topics(self, with_unmatched: bool = True) -> list[str]:
        """Prefixed topic names the sink subscribes to."""
        out = [self._facts, *self._derived]
        return [*out, self._unmatched] if with_unmatched else out

    def unprefixed(self, topic: str) -> str:
        return topic[len(self._prefix):] if self._prefix and topic.startswith(self._prefix) else topic

    def fact_kind(self, value: bytes) -> str:
        """``ticket``, ``snapshot`` or ``performance``, from the writer schema's record name."""
        kind = self._kind_of_header.get(value[:_HEADER_SIZE])
        if kind is None:
            schema_id = decode_header(value)
            writer = self._registry.writer_schema(schema_id)
            name = str(writer.get("name", "")).rsplit(".", 1)[-1] if isinstance(writer, Mapping) else ""
            if name not in _KIND_OF_NAME:
                raise SerializationError(f"schema id {schema_id} is record {name!r}, not a fact "
                                         f"({', '.join(_KIND_OF_NAME)})")
            kind = self._kind_of_header[value[:_HEADER_SIZE]] = _KIND_OF_NAME[name]
        return kind

    def decode(self, topic: str, key: bytes | None, value: bytes | None, partition: int,
               offset: int, timestamp_ms: int = 0) -> Row | Skip:
        """The row for this record, or a Skip."""
        try:
            return self._decode(topic, key, value, partition, offset, timestamp_ms)
        except SchemaRegistryError as exc:
            if _unknown_schema(exc):  # the registry answered: this id does not exist
                raise SerializationError(f"the record names a schema id the registry does not "
                                         f"know ({exc})") from exc
            raise

    def _decode(self, topic: str, key: bytes | None, value: bytes | None, partition: int,
                offset: int, timestamp_ms: int) -> Row | Skip:
        try:
            key_str = key.decode("utf-8") if key else ""
        except UnicodeDecodeError as exc:
            raise MappingError(f"the Kafka key is not UTF-8: {exc}", "key") from exc
        src = Source(key_str, partition, offset, timestamp_ms)
        derived = self._derived.get(topic)
        if derived is not None:
            deserializer, mapper = derived
            if value is None:
                if mapper is lastminute_row:
                    return lastminute_row(None, src)
                return Skip("tombstone")
            return mapper(self._record(deserializer, value), src)
        if topic not in (self._facts, self._unmatched):
            raise MappingError(f"topic {topic} is not one the ClickHouse sink reads", "topic")
        if value is None:
            raise SerializationError("a fact with an empty (null) value; facts are never deleted")
        kind = self.fact_kind(value)
        rec = self._record(self._fact_readers[kind], value)
        if topic == self._unmatched:
            return unmatched_row(kind, rec, src)
        return FACT_MAPPERS[kind](rec, src)

    @staticmethod
    def _record(deserializer: _Reader, value: bytes) -> dict[str, Any]:
        try:
            rec = deserializer(value)
        except SerializationError:
            raise
        except (KeyError, AttributeError, ValueError, TypeError) as exc:
            raise SerializationError(f"cannot decode {len(value)} bytes: {exc}") from exc
        except Exception as exc:
            if exc.__class__.__name__ == "SchemaResolutionError":  # fastavro: writer != reader
                raise SerializationError(f"the writer schema does not resolve to the reader "
                                         f"schema of this topic: {exc}") from exc
            raise
        if rec is None:
            raise SerializationError("empty record")
        return rec

"""Kafka records -> rows: Avro decoding (the bus codec, ``bus.codec``) then ``rows``.

Which fact a record on ``participation.facts`` holds is read from its writer schema
(cached per schema id), not trusted from the ``cultuurbus.kind`` header alone. Records
are decoded with timestamps as epoch milliseconds (the ticks of ``DateTime64(3)``) and
checked against the contract's ranges, so a value ClickHouse cannot hold is a dead
letter, never a failed insert.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bus.codec import KIND_HEADER, ContractReader, FactReader
from bus.errors import SchemaRegistryError, SerializationError
from bus.serde import Registry
from bus.topics import (
    ATTENDANCE,
    AVAILABILITY,
    FACTS,
    IDENTITY,
    LASTMINUTE,
    SALES,
    UNMATCHED,
    VENUE_LINKS,
    topic_name,
)
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
    venue_link_row,
)

__all__ = ["DERIVED_TOPICS", "FACT_TOPICS", "KIND_HEADER", "RecordDecoder", "Skip"]

#: Derived (compacted) topics: unprefixed name -> (reader schema, mapper).
DERIVED_TOPICS: dict[str, tuple[str, Callable[[Any, Source], Row]]] = {
    AVAILABILITY: ("availability.avsc", availability_row),
    ATTENDANCE: ("attendance.avsc", attendance_row),
    SALES: ("sales_window.avsc", sales_window_row),
    LASTMINUTE: ("lastminute_offer.avsc", lastminute_row),
    IDENTITY: ("identity_link.avsc", identity_row),
    VENUE_LINKS: ("venue_link.avsc", venue_link_row),
}
#: Ticket-fact fields no table has (order and ticket ids, the identifiers the worker
#: matched on): skipped while decoding.
_TICKET_UNREAD = ("identifiers", "order_id", "ticket_ids")
#: Topics carrying raw fact bytes of any kind.
FACT_TOPICS = (FACTS, UNMATCHED)


@dataclass(frozen=True)
class Skip:
    """A record deliberately not written (a tombstone on a compacted state topic).

    ``withdraw``: the performance an availability tombstone withdraws (a performance renamed
    to its sector id, ``streams.identity.match_domain``): its current row is deleted, so an
    analyst does not see it beside the performance it became.
    """

    reason: str
    withdraw: str | None = None


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
        # compiled (cavro) decoding: a third of the sink's time was fastavro's (session 24);
        # order and ticket ids are never stored, so never decoded either
        self._fact_reader = FactReader(registry, compiled=True, without={"ticket": _TICKET_UNREAD})
        self._derived = {
            topic_name(t, topic_prefix): (ContractReader(registry, schema, compiled=True), mapper)
            for t, (schema, mapper) in DERIVED_TOPICS.items()}
        self._facts = topic_name(FACTS, topic_prefix)
        self._unmatched = topic_name(UNMATCHED, topic_prefix)

    def topics(self, with_unmatched: bool = True) -> list[str]:
        """Prefixed topic names the sink subscribes to."""
        out = [self._facts, *self._derived]
        return [*out, self._unmatched] if with_unmatched else out

    def unprefixed(self, topic: str) -> str:
        return topic[len(self._prefix):] if self._prefix and topic.startswith(self._prefix) else topic

    def fact_kind(self, value: bytes) -> str:
        """``ticket``, ``snapshot`` or ``performance``, from the writer schema's record name."""
        return self._fact_reader.kind(value)

    def decode(self, topic: str, key: bytes | None, value: bytes | None, partition: int,
               offset: int, timestamp_ms: int = 0) -> Row | Skip:
        """The row for this record, or a Skip."""
        try:
            return self._decode(topic, key, value, partition, offset, timestamp_ms)
        except (MappingError, SerializationError, SchemaRegistryError):
            raise
        except Exception as exc:  # noqa: BLE001 - a mapper tripped on a value: the record's fault
            raise MappingError(f"cannot map the record to a row ({type(exc).__name__}: "
                               f"{str(exc)[:300]})") from exc

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
                if mapper is availability_row and key_str:
                    return Skip("tombstone", withdraw=key_str)
                return Skip("tombstone")
            return mapper(deserializer(value), src)
        if topic not in (self._facts, self._unmatched):
            raise MappingError(f"topic {topic} is not one the ClickHouse sink reads", "topic")
        if value is None:
            raise SerializationError("a fact with an empty (null) value; facts are never deleted")
        kind, rec = self._fact_reader(value)
        if topic == self._unmatched:
            return unmatched_row(kind, rec, src)
        return FACT_MAPPERS[kind](rec, src)

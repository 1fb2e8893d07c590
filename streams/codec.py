"""Decoding facts on the hot path: raw Confluent-wire bytes -> (kind, dict) with
fastavro, writer schemas cached by id (no per-message codec objects)."""

from __future__ import annotations

from typing import Any

from bus.serde import AvroDeserializer, AvroSerializer, Registry, decode_header
from schemas import load_schema

__all__ = ["FactCodec", "KIND_HEADER"]

KIND_HEADER = "cultuurbus.kind"
_KINDS = {"TicketEvent": ("ticket", "ticket_event.avsc"),
          "SalesSnapshot": ("snapshot", "sales_snapshot.avsc"),
          "Performance": ("performance", "performance.avsc")}


class FactCodec:
    """Knows every fact kind; decodes into the current contract (reader schemas)."""

    def __init__(self, registry: Registry, topic_prefix: str) -> None:
        self.registry = registry
        self.prefix = topic_prefix
        self._readers = {kind: AvroDeserializer(registry, load_schema(file))
                         for kind, file in _KINDS.values()}
        self._kind_of_id: dict[int, str] = {}
        self._serializers: dict[str, AvroSerializer] = {}

    def kind(self, raw: bytes) -> str:
        schema_id = decode_header(raw)
        kind = self._kind_of_id.get(schema_id)
        if kind is None:
            writer = self.registry.writer_schema(schema_id)
            name = str(writer.get("name", "")).rsplit(".", 1)[-1]
            if name not in _KINDS:
                from bus.errors import SerializationError

                raise SerializationError(f"schema id {schema_id} is {name!r}, not a fact kind "
                                         f"({', '.join(_KINDS)})")
            kind = _KINDS[name][0]
            self._kind_of_id[schema_id] = kind
        return kind

    def decode(self, raw: bytes) -> tuple[str, dict[str, Any]]:
        kind = self.kind(raw)
        rec = self._readers[kind](raw)
        assert rec is not None
        return kind, rec

    def encode(self, topic: str, schema_file: str, record: dict[str, Any]) -> bytes:
        """Encode a derived record for ``topic`` (unprefixed name)."""
        ser = self._serializers.get(topic)
        if ser is None:
            ser = AvroSerializer(self.registry, self.prefix + topic, schema_file)
            self._serializers[topic] = ser
        out = ser(record)
        assert out is not None
        return out

"""Decoding and encoding on the hot path: Confluent-wire bytes <-> plain dicts with fastavro.

Faster than the generic serde of ``bus.serde`` on three counts, each measured on a ticket
fact (see the streams perf notes in the module docs of ``streams.facts``):

- timestamps stay ``int`` milliseconds: the schemas are parsed without their
  ``timestamp-millis`` logical types (the bytes are the same longs), which spares a
  timezone-aware ``datetime`` per field on decode and the conversion back on encode;
- a writer schema identical to the contract is read without schema resolution; only an
  older or newer writer schema is resolved into the current contract (the reader schema);
- one decoder per schema id and one encoder per output topic, built once.

Every state function in ``streams`` accepts timestamps as int milliseconds.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Mapping
from typing import Any

import fastavro
from fastavro.schema import to_parsing_canonical_form

from bus.errors import SerializationError
from bus.serde import AvroSerializer, Registry, decode_header
from schemas import load_schema

__all__ = ["FactCodec", "KIND_HEADER", "without_logical_types"]

KIND_HEADER = "cultuurbus.kind"
_KINDS = {"TicketEvent": ("ticket", "ticket_event.avsc"),
          "SalesSnapshot": ("snapshot", "sales_snapshot.avsc"),
          "Performance": ("performance", "performance.avsc")}
_HEADER = struct.Struct(">bI")

Decoder = Callable[[bytes], dict[str, Any]]


def without_logical_types(schema: Any) -> Any:
    """A copy of a schema (dict/list form) whose ``timestamp-millis`` fields read as plain longs."""
    if isinstance(schema, dict):
        return {k: without_logical_types(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [without_logical_types(x) for x in schema]
    return schema


def _canonical(schema: Any) -> str:
    return str(to_parsing_canonical_form(schema))


class FactCodec:
    """Knows every fact kind; decodes into the current contract, timestamps as int ms."""

    def __init__(self, registry: Registry, topic_prefix: str) -> None:
        self.registry = registry
        self.prefix = topic_prefix
        self._contract = {kind: load_schema(file) for kind, file in _KINDS.values()}
        self._decoders: dict[int, tuple[str, Decoder]] = {}
        self._encoders: dict[str, tuple[bytes, Any]] = {}
        self._readers: dict[str, Decoder] = {}

    def _decoder_for(self, schema_id: int) -> tuple[str, Decoder]:
        writer = self.registry.writer_schema(schema_id)
        name = str(writer.get("name", "")).rsplit(".", 1)[-1]
        if name not in _KINDS:
            raise SerializationError(f"schema id {schema_id} is {name!r}, not a fact kind "
                                     f"({', '.join(_KINDS)})")
        kind = _KINDS[name][0]
        return kind, self._make_decoder(schema_id, writer, self._contract[kind])

    @staticmethod
    def _make_decoder(schema_id: int, writer: Any, contract: Mapping[str, Any]) -> Decoder:
        plain_writer = fastavro.parse_schema(without_logical_types(_raw_schema(writer)))
        reader = None
        if _canonical(writer) != _canonical(dict(contract)):
            reader = fastavro.parse_schema(without_logical_types(dict(contract)))
        skip = _HEADER.size

        def decode(raw: bytes) -> dict[str, Any]:
            buf = io.BytesIO(raw)
            buf.seek(skip)
            try:
                return fastavro.schemaless_reader(buf, plain_writer, reader)  # type: ignore[return-value]
            except (EOFError, ValueError, TypeError, IndexError, StopIteration) as exc:
                raise SerializationError(
                    f"cannot decode {len(raw)} bytes with schema id {schema_id}: {exc}") from exc

        return decode

    def decode(self, raw: bytes) -> tuple[str, dict[str, Any]]:
        """``(kind, record)`` of a fact; raises SerializationError on bytes that are not one."""
        schema_id = decode_header(raw)
        entry = self._decoders.get(schema_id)
        if entry is None:
            entry = self._decoders[schema_id] = self._decoder_for(schema_id)
        return entry[0], entry[1](raw)

    def reader(self, schema_file: str) -> Decoder:
        """A decoder of any wire-format record into the ``schema_file`` contract (int-ms times)."""
        dec = self._readers.get(schema_file)
        if dec is None:
            contract = load_schema(schema_file)
            per_id: dict[int, Decoder] = {}

            def dec(raw: bytes) -> dict[str, Any]:
                schema_id = decode_header(raw)
                d = per_id.get(schema_id)
                if d is None:
                    d = per_id[schema_id] = self._make_decoder(
                        schema_id, self.registry.writer_schema(schema_id), contract)
                return d(raw)

            self._readers[schema_file] = dec
        return dec

    def encode(self, topic: str, schema_file: str, record: dict[str, Any]) -> bytes:
        """Encode a derived record for ``topic`` (unprefixed name); times as int ms."""
        entry = self._encoders.get(topic)
        if entry is None:
            ser = AvroSerializer(self.registry, self.prefix + topic, schema_file)
            header = _HEADER.pack(0, ser.schema_id)  # registers the schema once
            entry = (header, fastavro.parse_schema(without_logical_types(load_schema(schema_file))))
            self._encoders[topic] = entry
        buf = io.BytesIO()
        buf.write(entry[0])
        try:
            fastavro.schemaless_writer(buf, entry[1], record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SerializationError(f"cannot encode record for {self.prefix + topic}: {exc}") from exc
        return buf.getvalue()


def _raw_schema(parsed: Any) -> Any:
    """The schema as JSON-able data (fastavro's parsed form adds ``__fastavro_parsed`` keys)."""
    if isinstance(parsed, dict):
        return {k: _raw_schema(v) for k, v in parsed.items() if not k.startswith("__")}
    if isinstance(parsed, list):
        return [_raw_schema(x) for x in parsed]
    return parsed

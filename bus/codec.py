"""The one fast Avro path of the bus: Confluent-wire bytes <-> plain dicts with fastavro
(cavro, compiled, for decoding where asked: :func:`body_decoder`).

This module owns the wire header (magic byte 0, 4-byte big-endian schema id), the
fact-kind header (``cultuurbus.kind``) and the map of fact kinds to contract schemas.
The streams worker and the ClickHouse sink read and write through it; ``bus.serde`` is
the generic (datetime-valued) serde on the same header.

Three tricks make it fast, each measured on a ticket fact:

- timestamps stay ``int`` milliseconds: schemas are parsed without their
  ``timestamp-millis`` logical types (the bytes are the same longs), which spares a
  timezone-aware ``datetime`` per field on decode and the conversion back on encode;
- a writer schema identical to the contract is read without schema resolution; only
  an older or newer writer schema is resolved into the contract (about a third of the
  decoding time);
- one plan per schema id (kept by its 5 header bytes, so a known record needs no
  header parsing), one encoder per topic, built once.

Every reader and writer checks the record against the contract's ranges
(``bus.ranges``): ``int`` fields within 32 bits, ``long`` within 64, every timestamp
within the times every role can carry (a Python ``datetime`` in any timezone,
ClickHouse ``DateTime64(3)``). Whatever
goes wrong while reading, the caller gets a :class:`~bus.errors.SerializationError`
saying what and where (or a :class:`~bus.errors.SchemaRegistryError` when the registry
cannot be reached, which is worth retrying): never a fastavro, struct or overflow error.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

import fastavro
from fastavro.schema import to_parsing_canonical_form

from bus.errors import SchemaRegistryError, SerializationError
from bus.ranges import contract_check
from schemas import load_schema

if TYPE_CHECKING:
    from bus.serde import Registry

__all__ = ["ACCEPTED_MOVE", "FACT_KINDS", "HEADER_SIZE", "KIND_HEADER", "KIND_OF_RECORD", "MAGIC_BYTE",
           "MOVE_HEADER", "RETRACT_PREFIX", "TENANT_HEADER", "WIRE_HEADER", "ContractReader",
           "ContractWriter", "FactReader", "accepted_move", "body_decoder", "decode_header", "raw_schema",
           "stored_move", "undecodable", "writer_schema", "without_logical_types"]

MAGIC_BYTE = 0
#: Confluent wire format: magic byte, 4-byte big-endian schema id, then the Avro body.
WIRE_HEADER = struct.Struct(">bI")
HEADER_SIZE = WIRE_HEADER.size
#: Kafka header naming a fact's kind on ``participation.facts`` and ``participation.unmatched``.
KIND_HEADER = "cultuurbus.kind"
#: Kafka header of a fact on ``participation.facts`` that a re-route moved
#: (``streams.identity.reroute``): ``retract/<n>`` on a RETRACTION (take generation ``n``
#: of the fact back out of the performance it is keyed by), ``<n>`` on the fact re-sent
#: as generation ``n`` (1, 2, ...) under its new performance. An ordinary fact has none
#: (generation 0). The streams worker applies each retraction and re-send once; the
#: ClickHouse sink deletes a retracted fact's row from the performance it was keyed by.
MOVE_HEADER = "cultuurbus.move"
#: The ``MOVE_HEADER`` value of a retraction starts with this.
RETRACT_PREFIX = "retract/"
#: Kafka header naming the tenant a fact came from (the ingest topic it arrived on), set by
#: the streams worker's identity agents only (``streams.tenancy``).
TENANT_HEADER = "cultuurbus.tenant"
#: ``MOVE_HEADER`` value (alone, or before ``:`` and the move it copies) of the copy the
#: streams worker's facts agent writes to ``participation.facts`` of a tenant's fact once it
#: judged and counted it (``streams.facts.ownership``). The ClickHouse sink stores a fact
#: that carries ``TENANT_HEADER`` only from this copy, so a fact still held (its
#: performance's venue not known yet) or refused is never in a report; the facts agent
#: skips the copy (it counted the fact already).
ACCEPTED_MOVE = "accepted"


def accepted_move(move: str | None) -> str:
    """The ``MOVE_HEADER`` of the accepted copy of a fact whose own move is ``move``."""
    return ACCEPTED_MOVE if move is None else f"{ACCEPTED_MOVE}:{move}"


def stored_move(move: str | None, tenant: str | None) -> tuple[bool, str | None]:
    """What the sink makes of a record on ``participation.facts`` with these headers:
    (store it?, its move as the facts agent counted it). A tenant's fact is stored only as
    its accepted copy (``ACCEPTED_MOVE``); everything else as it comes."""
    if tenant is None:
        return True, move
    if move is None or not move.startswith(ACCEPTED_MOVE):
        return False, move
    return True, move[len(ACCEPTED_MOVE) + 1:] or None


#: Fact kind -> its contract schema file.
FACT_KINDS: dict[str, str] = {"ticket": "ticket_event.avsc", "snapshot": "sales_snapshot.avsc",
                              "performance": "performance.avsc"}
#: Avro record name (without namespace) -> fact kind.
KIND_OF_RECORD: dict[str, str] = {"TicketEvent": "ticket", "SalesSnapshot": "snapshot",
                                  "Performance": "performance"}


def decode_header(data: bytes | None) -> int:
    """The schema id in a wire-format message, or a SerializationError saying why not."""
    if not isinstance(data, bytes | bytearray | memoryview) or len(data) < HEADER_SIZE:
        size = len(data) if isinstance(data, bytes | bytearray | memoryview) else 0
        raise SerializationError(
            f"message of {size} bytes is too short for the Confluent wire format (magic byte + "
            "4-byte schema id); was it produced with a registry-aware Avro serializer?")
    magic, schema_id = WIRE_HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise SerializationError(
            f"unknown magic byte {magic} (expected 0): the message is not Confluent-wire "
            "Avro; send it through a cultuurbus connector or the project's serde")
    return int(schema_id)


def raw_schema(parsed: Any) -> Any:
    """A schema as JSON-able data (fastavro's parsed form adds ``__fastavro_parsed`` keys)."""
    if isinstance(parsed, dict):
        return {k: raw_schema(v) for k, v in parsed.items() if not k.startswith("__")}
    if isinstance(parsed, list):
        return [raw_schema(x) for x in parsed]
    return parsed


def without_logical_types(schema: Any) -> Any:
    """A copy of a schema (dict/list form) whose ``timestamp-millis`` fields read as plain longs."""
    if isinstance(schema, dict):
        out = {k: without_logical_types(v) for k, v in schema.items() if not k.startswith("__")}
        if out.get("logicalType") == "timestamp-millis":
            del out["logicalType"]
        return out
    if isinstance(schema, list):
        return [without_logical_types(x) for x in schema]
    return schema


def _ints_as_longs(schema: Any) -> Any:
    """A copy of a schema (dict/list form) with every ``int`` a ``long``."""
    if schema == "int":
        return "long"
    if isinstance(schema, list):
        return [_ints_as_longs(x) for x in schema]
    if isinstance(schema, dict):  # a field's or a type's type, items, values and fields
        return {k: _ints_as_longs(v) if k in ("type", "items", "values", "fields") else v
                for k, v in schema.items()}
    return schema


def body_decoder(writer: Any, reader: Any = None, compiled: bool = False) -> Callable[[bytes], Any]:
    """Avro body bytes (after the wire header) -> plain record, written with ``writer`` and
    resolved into ``reader`` (None: read as written); both are schemas in JSON form.

    ``compiled``: decode with cavro (Cython), 2-3x as fast as fastavro's
    ``schemaless_reader`` on our facts (bench/results/issue14, session 24), but it imports
    numpy (~15 MB): the ClickHouse sink has numpy already, the streams worker does not.
    A schema cavro's stricter parser refuses, or a writer it cannot promote to the reader,
    is read with fastavro, so what decodes and how it fails stays fastavro's.
    """
    plain_writer = without_logical_types(writer)
    plain_reader = None if reader is None else without_logical_types(reader)
    if compiled:
        import cavro  # noqa: PLC0415 - only where asked for (it imports numpy)

        # records as dicts, timestamps as int ms, unions as plain values: what fastavro gives
        options = cavro.DEFAULT_OPTIONS.replace(record_decodes_to_dict=True, logical_types=())
        try:
            if plain_reader is not None:  # raises if they do not resolve as the schemas stand
                cavro.Schema(plain_reader, options).reader_for_writer(cavro.Schema(plain_writer, options))
            # an int is read as a long (the same zigzag varint on the wire): cavro keeps the
            # low 32 bits of a bigger one, and the range check must see the value sent
            decoder = cavro.Schema(_ints_as_longs(plain_writer), options)
            if plain_reader is not None:
                decoder = cavro.Schema(_ints_as_longs(plain_reader), options).reader_for_writer(decoder)
            return decoder.binary_decode  # type: ignore[no-any-return]
        except Exception:  # noqa: BLE001, S110 - cavro refused the schema: fastavro reads it below
            pass
    parsed_writer = fastavro.parse_schema(plain_writer)
    parsed_reader = None if plain_reader is None else fastavro.parse_schema(plain_reader)

    def decode(body: bytes) -> Any:
        return fastavro.schemaless_reader(io.BytesIO(body), parsed_writer, parsed_reader)

    return decode


def _canonical(schema: Any) -> str:
    return str(to_parsing_canonical_form(raw_schema(schema)))


def _record_name(schema: Any) -> str:
    return str(schema.get("name", "") if isinstance(schema, Mapping) else "").rsplit(".", 1)[-1]


class ContractReader:
    """Reads any wire-format record into one contract, timestamps as int ms, range-checked.

    Args:
        registry: where writer schemas come from (cached per id).
        schema: the contract: a ``.avsc`` file name in ``schemas/avro`` or a schema dict.
        compiled: decode with cavro (see :func:`body_decoder`).
        without: top-level fields of the contract the caller never reads: skipped while
            decoding (Avro still walks their bytes), absent from the records.

    Raises (from a call):
        SerializationError: the bytes are not a record of this contract (never retried).
        SchemaRegistryError: the registry cannot be reached now (worth retrying).

    """

    def __init__(self, registry: Registry, schema: str | Mapping[str, Any], *,
                 compiled: bool = False, without: Collection[str] = ()) -> None:
        self._registry = registry
        self._compiled = compiled
        contract = load_schema(schema) if isinstance(schema, str) else raw_schema(dict(schema))
        self.name = _record_name(contract)
        self._canonical = _canonical(contract)
        self.check = contract_check(contract)  # an absent field is not checked
        if without:
            unknown = set(without) - {f["name"] for f in contract["fields"]}
            if unknown:
                raise ValueError(f"{self.name} has no field {', '.join(sorted(unknown))}")
            contract = {**contract, "fields": [f for f in contract["fields"] if f["name"] not in without]}
            self._canonical = ""  # every writer is resolved into the smaller reader
        self._contract = contract
        #: header bytes (magic byte + schema id) -> body decoder
        self._plans: dict[bytes, Callable[[bytes], Any]] = {}

    def __call__(self, raw: bytes) -> dict[str, Any]:
        try:
            decode = self._plans.get(raw[:HEADER_SIZE])
            if decode is None:
                decode = self.plan(raw)
            rec: dict[str, Any] = decode(raw[HEADER_SIZE:])
            self.check(rec)
            return rec
        except (SerializationError, SchemaRegistryError):
            raise
        except Exception as exc:  # noqa: BLE001 - any failure on these bytes is the record's
            raise undecodable(raw, self.name, exc, self._registry) from exc

    def plan(self, raw: bytes) -> Callable[[bytes], Any]:
        """The body decoder (Avro bytes after the header -> record in this contract) for the
        schema id in ``raw``'s header, fetched and built once per id."""
        decode = self._plans.get(bytes(raw[:HEADER_SIZE]))
        if decode is not None:
            return decode
        writer = raw_schema(writer_schema(self._registry, decode_header(raw)))
        decode = body_decoder(writer, None if _canonical(writer) == self._canonical else self._contract,
                              self._compiled)
        self._plans[bytes(raw[:HEADER_SIZE])] = decode
        return decode


def writer_schema(registry: Registry, schema_id: int) -> Any:
    """``registry.writer_schema(schema_id)``, where an id the registry answered it does not
    know is the record's fault (SerializationError), and only an unreachable registry is
    a (retriable) SchemaRegistryError."""
    try:
        return registry.writer_schema(schema_id)
    except SchemaRegistryError as exc:
        cause = exc.__cause__
        if getattr(cause, "http_status_code", None) == 404 or getattr(cause, "error_code", None) in (
                40401, 40403):
            raise SerializationError(f"the record names a schema id the registry does not know "
                                     f"({exc}); it was not produced through this registry") from exc
        raise


def undecodable(raw: Any, contract: str, exc: BaseException,
                registry: Registry | None = None) -> SerializationError:
    """The SerializationError for bytes that could not be read as ``contract``, saying why."""
    try:
        schema_id: int | str = decode_header(raw)
    except SerializationError as bad:
        return SerializationError(str(bad))
    if exc.__class__.__name__ == "SchemaResolutionError":
        try:
            writer = f" ({_record_name(registry.writer_schema(int(schema_id)))})" if registry else ""
        except Exception:  # noqa: BLE001 - only for the message
            writer = ""
        return SerializationError(
            f"schema id {schema_id}{writer} does not resolve to the {contract} contract "
            f"({str(exc)[:200]}): the record was produced for another topic or with an "
            "incompatible schema")
    return SerializationError(
        f"cannot decode {len(raw)} bytes with schema id {schema_id} as {contract} "
        f"({type(exc).__name__}: {str(exc)[:300]}); the bytes are truncated or not what the "
        "writer schema says: produce them with the project's serde")


class FactReader:
    """Reads any fact (kind from its writer schema's record name, not from a header).

    Args: ``compiled`` as :class:`ContractReader`; ``without``: fact kind -> its
    ``without``.

    Raises (from a call): as :class:`ContractReader`.
    """

    def __init__(self, registry: Registry, *, compiled: bool = False,
                 without: Mapping[str, Collection[str]] | None = None) -> None:
        self._registry = registry
        self._readers = {kind: ContractReader(registry, file, compiled=compiled,
                                              without=(without or {}).get(kind, ()))
                         for kind, file in FACT_KINDS.items()}
        #: header bytes -> (kind, body decoder, range check)
        self._plans: dict[bytes, tuple[str, Callable[[bytes], Any], Callable[[Any], None]]] = {}

    def kind(self, raw: bytes) -> str:
        """``ticket``, ``snapshot`` or ``performance``; SerializationError for anything else."""
        try:
            plan = self._plans.get(raw[:HEADER_SIZE]) or self._plan(raw)
        except TypeError as exc:
            raise undecodable(raw, "a fact", exc, self._registry) from exc
        return plan[0]

    def __call__(self, raw: bytes) -> tuple[str, dict[str, Any]]:
        """``(kind, record)`` of a fact; SerializationError on bytes that are not one."""
        try:
            plan = self._plans.get(raw[:HEADER_SIZE])
            if plan is None:
                plan = self._plan(raw)
            rec: dict[str, Any] = plan[1](raw[HEADER_SIZE:])
            plan[2](rec)
            return plan[0], rec
        except (SerializationError, SchemaRegistryError):
            raise
        except Exception as exc:  # noqa: BLE001 - any failure on these bytes is the record's
            raise undecodable(raw, "a fact", exc, self._registry) from exc

    def _plan(self, raw: bytes) -> tuple[str, Callable[[bytes], Any], Callable[[Any], None]]:
        schema_id = decode_header(raw)
        name = _record_name(writer_schema(self._registry, schema_id))
        kind = KIND_OF_RECORD.get(name)
        if kind is None:
            raise SerializationError(f"schema id {schema_id} is record {name!r}, not a fact "
                                     f"({', '.join(KIND_OF_RECORD)}); it was produced for "
                                     "another topic")
        reader = self._readers[kind]
        plan = self._plans[bytes(raw[:HEADER_SIZE])] = (kind, reader.plan(raw), reader.check)
        return plan


class ContractWriter:
    """Writes records of one contract for one topic, timestamps as int ms, range-checked;
    the bytes are the ones ``bus.serde.AvroSerializer`` writes for the same record.

    Args:
        registry: where the schema is registered (once, on the first record).
        topic: the full topic name; the subject is ``<topic>-value``.
        schema: the ``.avsc`` file name in ``schemas/avro`` or a schema dict.

    """

    def __init__(self, registry: Registry, topic: str, schema: str | Mapping[str, Any]) -> None:
        self._registry = registry
        self.topic = topic
        self._schema = load_schema(schema) if isinstance(schema, str) else raw_schema(dict(schema))
        self._parsed = fastavro.parse_schema(without_logical_types(self._schema))
        self._check = contract_check(self._schema)
        self._header: bytes | None = None

    @property
    def header(self) -> bytes:
        """Magic byte and schema id (registers the schema on first use)."""
        if self._header is None:
            schema_id = self._registry.register(f"{self.topic}-value", self._schema)
            self._header = WIRE_HEADER.pack(MAGIC_BYTE, schema_id)
        return self._header

    def __call__(self, record: Mapping[str, Any]) -> bytes:
        buf = io.BytesIO()
        buf.write(self._header or self.header)
        try:
            self._check(record)
            fastavro.schemaless_writer(buf, self._parsed, record)
        except SerializationError:
            raise
        except Exception as exc:  # noqa: BLE001 - a record that cannot be written
            raise SerializationError(f"cannot encode a record for {self.topic} "
                                     f"({type(exc).__name__}: {str(exc)[:300]})") from exc
        return buf.getvalue()

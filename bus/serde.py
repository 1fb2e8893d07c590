"""Avro in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, body.

Bodies are written and read with fastavro (schemaless); writer schemas are fetched
from the registry once per id and cached. Confluent's own AvroDeserializer is about
five times slower on hot paths, so it is not used here. The registry client is
confluent-kafka's ``SchemaRegistryClient`` (it speaks to Confluent, Karapace,
Apicurio's ccompat API and Redpanda alike).
"""

from __future__ import annotations

import io
import json
import struct
import threading
from collections.abc import Mapping
from typing import Any

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError as _SRError
from fastavro.read import SchemaResolutionError

from bus.errors import SchemaIncompatibleError, SchemaRegistryError, SerializationError
from bus.settings import RegistrySettings
from schemas import load_schema
from schemas.models import AvroModel

__all__ = [
    "MAGIC_BYTE",
    "AvroDeserializer",
    "AvroSerializer",
    "Registry",
    "decode_header",
    "subject_for",
]

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")


def subject_for(topic: str) -> str:
    """Confluent TopicNameStrategy subject of a topic's values."""
    return f"{topic}-value"


def decode_header(data: bytes) -> int:
    """The schema id in a wire-format message, or a SerializationError saying why not."""
    if data is None or len(data) < _HEADER.size:
        raise SerializationError(
            f"message of {0 if data is None else len(data)} bytes is too short for the "
            "Confluent wire format (magic byte + 4-byte schema id); was it produced "
            "with a registry-aware Avro serializer?"
        )
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise SerializationError(
            f"unknown magic byte {magic} (expected 0): the message is not Confluent-wire "
            "Avro; send it through a cultuurbus connector or the project's serde"
        )
    return int(schema_id)


class Registry:
    """Schema registration, compatibility checks and cached lookups by id."""

    def __init__(self, settings: RegistrySettings) -> None:
        conf: dict[str, Any] = {"url": settings.url}
        if settings.basic_auth_user_info is not None:
            conf["basic.auth.user.info"] = settings.basic_auth_user_info.get_secret_value()
        self.url = settings.url
        self._client = SchemaRegistryClient(conf)
        self._by_id: dict[int, Any] = {}
        self._lock = threading.Lock()

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except _SRError as exc:
            if exc.http_status_code == 409:
                raise SchemaIncompatibleError(f"{what}: {exc.error_message}") from exc
            if exc.http_status_code and exc.http_status_code < 500 and exc.http_status_code != 404:
                raise SchemaRegistryError(f"{what}: registry answered {exc.http_status_code} "
                                          f"{exc.error_message}") from exc
            raise SchemaRegistryError(f"{what}: registry at {self.url} answered "
                                      f"{exc.http_status_code}: {exc.error_message}") from exc
        except Exception as exc:
            raise SchemaRegistryError(
                f"{what}: cannot reach the schema registry at {self.url} ({exc}); is it "
                "running? (`cultuurbus stack status`)"
            ) from exc

    def register(self, subject: str, schema: Mapping[str, Any]) -> int:
        """Register (or find) ``schema`` under ``subject`` and return its id.

        Raises:
            SchemaIncompatibleError: the registry's compatibility rule rejects it.

        """
        s = Schema(json.dumps(schema), "AVRO")
        try:
            schema_id = int(self._call(f"registering {subject}", self._client.register_schema,
                                       subject, s))
        except SchemaIncompatibleError as incompatible:
            # Two processes registering a new subject at once: some registries (Apicurio)
            # answer 409 "already exists" to the loser. If the schema is there, use it.
            try:
                found = self._client.lookup_schema(subject, s)
            except Exception:  # noqa: BLE001 - not there: it really is incompatible
                raise incompatible from None
            schema_id = int(found.schema_id)  # type: ignore[arg-type]

        with self._lock:
            self._by_id.setdefault(schema_id, fastavro.parse_schema(dict(schema)))
        return schema_id

    def is_compatible(self, subject: str, schema: Mapping[str, Any]) -> bool:
        """Whether ``schema`` may be registered under ``subject`` (True for a new subject)."""
        try:
            versions = self._client.get_versions(subject)
        except _SRError as exc:
            if exc.http_status_code == 404:
                return True
            raise SchemaRegistryError(f"listing versions of {subject}: {exc}") from exc
        except Exception as exc:
            raise SchemaRegistryError(f"cannot reach the schema registry at {self.url}: "
                                      f"{exc}") from exc
        if not versions:
            return True
        return bool(self._call(f"checking {subject}", self._client.test_compatibility,
                               subject, Schema(json.dumps(schema), "AVRO")))

    def set_compatibility(self, level: str, subject: str | None = None) -> None:
        self._call("setting compatibility", self._client.set_compatibility,
                   subject_name=subject, level=level)

    def get_compatibility(self, subject: str | None = None) -> str:
        return str(self._call("reading compatibility", self._client.get_compatibility,
                              subject_name=subject))

    def writer_schema(self, schema_id: int) -> Any:
        """The parsed writer schema of ``schema_id``, fetched once and cached."""
        parsed = self._by_id.get(schema_id)
        if parsed is not None:
            return parsed
        fetched = self._call(f"fetching schema id {schema_id}", self._client.get_schema,
                             schema_id)
        parsed = fastavro.parse_schema(json.loads(fetched.schema_str))
        with self._lock:
            self._by_id[schema_id] = parsed
        return parsed


class AvroSerializer:
    """``(obj, ctx) -> bytes`` for one topic's values; registers its schema on first use.

    Args:
        registry: where schema ids come from.
        topic: the topic; the subject is ``<topic>-value``.
        schema: the ``.avsc`` file name in ``schemas/avro`` or a schema dict.

    """

    def __init__(self, registry: Registry, topic: str, schema: str | Mapping[str, Any]) -> None:
        self._registry = registry
        self.subject = subject_for(topic)
        self._schema = load_schema(schema) if isinstance(schema, str) else dict(schema)
        self._parsed = fastavro.parse_schema(self._schema)
        self._header: bytes | None = None

    @property
    def schema_id(self) -> int:
        if self._header is None:
            schema_id = self._registry.register(self.subject, self._schema)
            self._header = _HEADER.pack(MAGIC_BYTE, schema_id)
        return _HEADER.unpack(self._header)[1]

    def __call__(self, obj: AvroModel | Mapping[str, Any] | None, ctx: object = None) -> bytes | None:
        if obj is None:
            return None
        if self._header is None:
            _ = self.schema_id
        record = obj.to_avro() if isinstance(obj, AvroModel) else obj
        buf = io.BytesIO()
        buf.write(self._header)  # type: ignore[arg-type]
        try:
            fastavro.schemaless_writer(buf, self._parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise SerializationError(f"cannot encode record for {self.subject}: {exc}") from exc
        return buf.getvalue()


class AvroDeserializer:
    """``(bytes, ctx) -> dict`` for any wire-format Avro; writer schemas cached by id.

    Args:
        registry: where writer schemas come from.
        reader_schema: optional ``.avsc`` name or dict to resolve into (schema evolution).

    """

    def __init__(self, registry: Registry, reader_schema: str | Mapping[str, Any] | None = None) -> None:
        self._registry = registry
        if isinstance(reader_schema, str):
            reader_schema = load_schema(reader_schema)
        self._reader = fastavro.parse_schema(dict(reader_schema)) if reader_schema else None

    def __call__(self, data: bytes | None, ctx: object = None) -> dict[str, Any] | None:
        if data is None:
            return None
        schema_id = decode_header(data)
        writer = self._registry.writer_schema(schema_id)
        buf = io.BytesIO(data)
        buf.seek(_HEADER.size)
        try:
            return fastavro.schemaless_reader(buf, writer, self._reader)  # type: ignore[return-value]
        except SchemaResolutionError as exc:
            name = writer.get("name") if isinstance(writer, Mapping) else writer
            raise SerializationError(
                f"schema id {schema_id} ({name}) does not resolve to this topic's schema "
                f"({self._reader.get('name') if isinstance(self._reader, Mapping) else ''}); "
                "the record was produced for another topic or with an incompatible schema"
            ) from exc
        except (EOFError, ValueError, TypeError, IndexError, StopIteration) as exc:
            raise SerializationError(
                f"cannot decode {len(data)} bytes with schema id {schema_id}: {exc}"
            ) from exc

"""Avro in the Confluent wire format: magic byte 0, 4-byte big-endian schema id, body.

Bodies are written and read with fastavro (schemaless); writer schemas are fetched
from the registry once per id and cached. Confluent's own AvroDeserializer is about
five times slower on hot paths, so it is not used here. The registry client is
confluent-kafka's ``SchemaRegistryClient`` (it speaks to Confluent, Karapace,
Apicurio's ccompat API and Redpanda alike).

Perf (issue #14): reading a writer schema by id, and looking up the id of a schema a role
writes, all the roles but ops do, go through ``bus.registry_http`` (the standard library);
``SchemaRegistryClient`` is imported and created only on the first call that needs it
(register, compatibility), which keeps ~14 MB of imports out of the gateway (peak RSS at
100,000 performances 194.9-198.1 -> 173.0-176.6 MB) and out of the streams worker.

This is the generic serde (timestamps as ``datetime``); the wire header and the hot
path with int-millisecond timestamps live in ``bus.codec``.
"""

from __future__ import annotations

import io
import json
import threading
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import fastavro
from fastavro.schema import to_parsing_canonical_form

from bus.codec import (
    HEADER_SIZE,
    MAGIC_BYTE,
    WIRE_HEADER,
    decode_header,
    raw_schema,
    undecodable,
    writer_schema,
)
from bus.errors import SchemaIncompatibleError, SchemaRegistryError, SerializationError
from bus.registry_http import RegistryHttp, is_answer, sr_error
from bus.settings import RegistrySettings
from schemas import load_schema
from schemas.models import AvroModel

if TYPE_CHECKING:
    from confluent_kafka.schema_registry import SchemaRegistryClient

__all__ = [
    "MAGIC_BYTE",
    "AvroDeserializer",
    "AvroSerializer",
    "Registry",
    "decode_header",
    "registry_env",
    "subject_for",
]

_NO_SUCH_SCHEMA = (40401, 40403)  # Confluent error codes: subject / schema id not found
def registry_env(settings: RegistrySettings) -> dict[str, str]:
    """``CULTUURBUS_REGISTRY__*`` variables that give a child process the same registry login."""
    env = {"CULTUURBUS_REGISTRY__URL": settings.url}
    if settings.basic_auth_user_info is not None:
        env["CULTUURBUS_REGISTRY__BASIC_AUTH_USER_INFO"] = settings.basic_auth_user_info.get_secret_value()
    return env


def subject_for(topic: str) -> str:
    """Confluent TopicNameStrategy subject of a topic's values."""
    return f"{topic}-value"


class Registry:
    """Schema registration, compatibility checks and cached lookups by id."""

    def __init__(self, settings: RegistrySettings) -> None:
        conf: dict[str, Any] = {"url": settings.url}
        self.user: str | None = None
        if settings.basic_auth_user_info is not None:
            conf["basic.auth.user.info"] = settings.basic_auth_user_info.get_secret_value()
            self.user = conf["basic.auth.user.info"].partition(":")[0]
        self.url = settings.url
        self._conf = conf
        self._http = RegistryHttp(settings)  # checks the urls and the login, as the client did
        self._sr_client: SchemaRegistryClient | None = None
        self._by_id: dict[int, Any] = {}
        self._lock = threading.Lock()

    @property
    def _client(self) -> SchemaRegistryClient:
        """confluent-kafka's client, imported and created on the first call that needs it."""
        if self._sr_client is None:
            from confluent_kafka.schema_registry import SchemaRegistryClient

            with self._lock:
                if self._sr_client is None:
                    self._sr_client = SchemaRegistryClient(self._conf)
        return self._sr_client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise self._error(what, exc) from exc

    def _error(self, what: str, exc: Exception) -> Exception:
        if is_answer(exc):
            status: int | None = getattr(exc, "http_status_code", None)
            message = getattr(exc, "error_message", "")
            if status == 401:
                who = f"registry user {self.user!r}" if self.user else "a caller without credentials"
                return SchemaRegistryError(
                    f"{what}: the registry at {self.url} refused {who} (401): set "
                    "CULTUURBUS_REGISTRY__BASIC_AUTH_USER_INFO=user:password to this role's "
                    "registry user")
            if status == 403:
                return SchemaRegistryError(f"{what}: registry user {self.user!r} may not do this "
                                           "(403: it may only read); ops does it")
            if status == 409:
                return SchemaIncompatibleError(f"{what}: {message}")
            if status and status < 500 and status != 404:
                return SchemaRegistryError(f"{what}: registry answered {status} "
                                           f"{message}")
            return SchemaRegistryError(f"{what}: registry at {self.url} answered "
                                       f"{status}: {message}")
        return SchemaRegistryError(f"{what}: cannot reach the schema registry at {self.url} ({exc}); "
                                   "is it running? (`cultuurbus stack status`)")

    def register(self, subject: str, schema: Mapping[str, Any]) -> int:
        """The id of ``schema`` under ``subject``: looked up, registered if it is not there.

        The lookup (``POST /subjects/{subject}``) is all a read-only registry user (every
        role but ops) may do, so a producer of such a role finds the id of a schema that
        ``cultuurbus schemas register`` registered, and fails clearly when it did not.

        Raises:
            SchemaIncompatibleError: the registry's compatibility rule rejects it.
            SchemaRegistryError: it is not registered and this registry user may not
                register it ("run `cultuurbus schemas register`"), or the registry cannot
                be reached.

        """
        text = json.dumps(schema)
        schema_id = self._lookup(subject, text)
        if schema_id is None:
            schema_id = self._register(subject, text)
        with self._lock:
            self._by_id.setdefault(schema_id, fastavro.parse_schema(dict(schema)))
        return schema_id

    def _lookup(self, subject: str, text: str) -> int | None:
        """The id of schema ``text`` under ``subject`` (``POST /subjects/{subject}``, as
        confluent-kafka's ``lookup_schema`` asks it, with the standard library: a role that
        only looks schemas up never loads that client's ~14 MB of imports); None when the
        subject or the schema is not there."""
        try:
            found = self._http.post(f"subjects/{urllib.parse.quote(subject, safe='')}"
                                    "?normalize=False&deleted=False", {"schema": text, "schemaType": "AVRO"})
            return int(found["id"])
        except Exception as exc:
            if is_answer(exc) and getattr(exc, "http_status_code", None) == 404:
                return None
            raise self._error(f"looking up the schema of {subject}", exc) from exc

    def _register(self, subject: str, text: str) -> int:
        from confluent_kafka.schema_registry import Schema

        client = self._client
        try:
            return int(client.register_schema(subject, Schema(text, "AVRO")))
        except sr_error() as exc:
            if getattr(exc, "http_status_code", None) == 403:
                raise SchemaRegistryError(
                    f"schema for {subject} is not registered: run `cultuurbus schemas register` "
                    f"(registry user {self.user!r} may only look schemas up)") from exc
            err = self._error(f"registering {subject}", exc)
            if not isinstance(err, SchemaIncompatibleError):
                raise err from exc
            # Two processes registering a new subject at once: some registries (Apicurio)
            # answer 409 "already exists" to the loser. If the schema is there, use it.
            found = self._lookup(subject, text)
            if found is None:
                raise err from exc
            return found
        except Exception as exc:
            raise self._error(f"registering {subject}", exc) from exc

    def is_compatible(self, subject: str, schema: Mapping[str, Any]) -> bool:
        """Whether ``schema`` may be registered under ``subject`` (True for a new subject)."""
        try:
            versions = self._client.get_versions(subject)
        except Exception as exc:
            if is_answer(exc) and getattr(exc, "http_status_code", None) == 404:
                return True
            raise self._error(f"listing versions of {subject}", exc) from exc
        if not versions:
            return True
        from confluent_kafka.schema_registry import Schema

        return bool(self._call(f"checking {subject}", self._client.test_compatibility,
                               subject, Schema(json.dumps(schema), "AVRO")))

    def set_compatibility(self, level: str, subject: str | None = None) -> None:
        self._call("setting compatibility", self._client.set_compatibility,
                   subject_name=subject, level=level)

    def get_compatibility(self, subject: str | None = None) -> str:
        return str(self._call("reading compatibility", self._client.get_compatibility,
                              subject_name=subject))

    def writer_schema(self, schema_id: int) -> Any:
        """The parsed writer schema of ``schema_id``, fetched once and cached.

        Raises:
            SerializationError: the registry answered that there is no such id, or its
                schema is not Avro (a record naming it can never be read: dead-letter it).
            SchemaRegistryError: the registry cannot be reached (worth retrying).

        """
        parsed = self._by_id.get(schema_id)
        if parsed is not None:
            return parsed
        try:
            fetched = self._http.get(f"schemas/ids/{schema_id}")
        except Exception as exc:
            if is_answer(exc) and (getattr(exc, "http_status_code", None) == 404
                                    or getattr(exc, "error_code", None) in _NO_SUCH_SCHEMA):
                raise SerializationError(
                    f"the registry at {self.url} does not know schema id {schema_id}: the record "
                    "was not produced through this registry (another cluster's, or a deleted "
                    "schema); produce it again with the project's serde") from exc
            raise self._error(f"fetching schema id {schema_id}", exc) from exc
        try:
            parsed = fastavro.parse_schema(json.loads(fetched.get("schema") or ""))
        except Exception as exc:  # noqa: BLE001 - whatever is wrong with it, it is not readable
            raise SerializationError(f"schema id {schema_id} in the registry at {self.url} is not "
                                     f"a usable Avro schema ({exc}); records naming it cannot be "
                                     "read") from exc
        with self._lock:
            self._by_id[schema_id] = parsed
        return parsed


class AvroSerializer:
    """``(obj, ctx) -> bytes`` for one topic's values; finds (or registers) its schema id on
    first use and keeps it.

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
            self._header = WIRE_HEADER.pack(MAGIC_BYTE, schema_id)
        return int(WIRE_HEADER.unpack(self._header)[1])

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

    Timestamps come back as timezone-aware ``datetime``. Whatever is wrong with the bytes
    (truncated, another format, a time beyond any calendar, an unknown schema id) it
    raises :class:`~bus.errors.SerializationError` saying what and where;
    :class:`~bus.errors.SchemaRegistryError` only when the registry cannot be reached.

    Args:
        registry: where writer schemas come from.
        reader_schema: optional ``.avsc`` name or dict to resolve into (schema evolution).

    """

    def __init__(self, registry: Registry, reader_schema: str | Mapping[str, Any] | None = None) -> None:
        self._registry = registry
        if isinstance(reader_schema, str):
            reader_schema = load_schema(reader_schema)
        self._reader = fastavro.parse_schema(dict(reader_schema)) if reader_schema else None
        self._name = str(reader_schema.get("name", "")) if reader_schema else "its writer schema"
        self._canonical = _canonical(reader_schema) if reader_schema else None
        self._plans: dict[bytes, tuple[Any, Any]] = {}  # header bytes -> writer, reader or None

    def __call__(self, data: bytes | None, ctx: object = None) -> dict[str, Any] | None:
        if data is None:
            return None
        try:
            plan = self._plans.get(data[:HEADER_SIZE])
            if plan is None:
                plan = self._plan(data)
            buf = io.BytesIO(data)
            buf.seek(HEADER_SIZE)
            return fastavro.schemaless_reader(buf, plan[0], plan[1])  # type: ignore[return-value]
        except (SerializationError, SchemaRegistryError):
            raise
        except Exception as exc:  # noqa: BLE001 - any failure on these bytes is the record's
            raise undecodable(data, self._name, exc, self._registry) from exc

    def _plan(self, data: bytes) -> tuple[Any, Any]:
        writer = writer_schema(self._registry, decode_header(data))
        same = self._canonical is not None and _canonical(writer) == self._canonical
        plan = self._plans[bytes(data[:HEADER_SIZE])] = (writer, None if same else self._reader)
        return plan


def _canonical(schema: Any) -> str:
    return str(to_parsing_canonical_form(raw_schema(dict(schema))))

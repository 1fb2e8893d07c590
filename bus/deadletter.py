"""The one dead-letter format of the bus (Kafka Connect style).

A record that a role cannot use goes to ``<topic>.dlq`` with its original key, value
(personal data masked where a connector wrote it) and timestamp, and these headers:

==============================  =======================================================
``errors.topic``                the topic the record was meant for / read from
``errors.partition``            its partition (roles that read it from Kafka)
``errors.offset``               its offset (tells copies of one record apart)
``errors.stage``                ``parse``, ``mapping``, ``serialization``, ``decode``,
                                ``apply``, ...: which step refused it
``errors.exception.class``      the error's module and class
``errors.exception.message``    what was wrong, at most 2,000 characters
``errors.field``                the offending field path, when known
``errors.source``               the role that refused it (connector name, ``streams``,
                                ``sink-clickhouse``, ``gateway``, ``crosswalk``)
``errors.source.position``      where in the source (request id, file line), connectors
``errors.consumer.group``       the consumer group, roles that commit offsets
``errors.redacted``             ``true`` when personal data was masked in the value
``errors.original.size``        the value's size in bytes, when the letter keeps only
                                its first ``MAX_VALUE_BYTES`` (see :func:`clip`)
``errors.truncated``            ``true`` when the letter keeps only the value's start
``errors.timestamp``            when it was dead-lettered (UTC, ISO 8601)
==============================  =======================================================

Every role builds these headers with :func:`error_headers`, nowhere else. Kafka's
producer refuses a record over ``message.max.bytes`` (1,000,000 bytes by default), so
a value longer than ``MAX_VALUE_BYTES`` keeps its first bytes (:func:`clip`) and says so,
rather than the letter being refused and the record lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["ERRORS_PREFIX", "MAX_MESSAGE", "MAX_VALUE_BYTES", "DeadLetter", "clip",
           "error_headers"]

ERRORS_PREFIX = "errors."
MAX_MESSAGE = 2000
#: The most of a value a dead letter keeps: under librdkafka's default
#: ``message.max.bytes`` (1,000,000) with room for the key and the ``errors.*`` headers.
MAX_VALUE_BYTES = 900_000

Header = tuple[str, str | bytes | None]


@dataclass(frozen=True)
class DeadLetter:
    """A record a role cannot use, with why, on its way to ``<topic>.dlq``.

    Args:
        topic: the topic it belongs to: a connector names the catalog topic it was meant
            for (the publisher adds the prefix); a consumer names the topic it read it from.
        raw: the original bytes (a connector's input, a consumed record's value).
        error: why it was refused.
        stage: which step refused it.
        key: the record's key.
        where: a position in the source (request id, file line), connectors.
        partition: where it was read, consumers.
        offset: where it was read, consumers.
        headers: the consumed record's own headers, kept.
        timestamp_ms: the consumed record's timestamp, kept (0: none).

    """

    topic: str
    raw: bytes | None
    error: BaseException
    stage: str = "mapping"
    key: str | bytes | None = None
    where: str | None = None
    partition: int | None = None
    offset: int | None = None
    headers: Sequence[Header] = ()
    timestamp_ms: int = 0


def clip(value: bytes | None, limit: int = MAX_VALUE_BYTES) -> tuple[bytes | None, int | None]:
    """The value a dead letter can carry, and its original size when it was cut to its
    first ``limit`` bytes (else None; pass it to :func:`error_headers`)."""
    if value is None or len(value) <= limit:
        return value, None
    return value[:limit], len(value)


def error_headers(*, topic: str, stage: str, error: BaseException, source: str,
                  partition: int | None = None, offset: int | None = None,
                  where: str | None = None, group: str | None = None,
                  redacted: bool | None = None, original_size: int | None = None,
                  original: Iterable[Header] = ()) -> list[Header]:
    """The headers of one dead letter: the record's own headers (any ``errors.*`` among
    them dropped, so a letter dead-lettered twice says why the second time) followed by
    the ``errors.*`` headers above.

    Args:
        topic: the full topic name (with prefix) the record belongs to.
        stage: which step refused it.
        error: why; its ``field`` attribute, when it has one, becomes ``errors.field``.
        source: the role that refused it.
        partition: the record's partition, when it was read from Kafka.
        offset: the record's offset, when it was read from Kafka.
        where: a position in the source (request id, file and line).
        group: the consumer group of the role.
        redacted: whether personal data was masked in the value (connectors).
        original_size: the value's size before :func:`clip` cut it, when it did.
        original: the record's own headers, kept.

    """
    out: list[Header] = [(k, v) for k, v in original if not k.startswith(ERRORS_PREFIX)]
    fields: list[tuple[str, str]] = [("errors.topic", topic)]
    if partition is not None:
        fields.append(("errors.partition", str(partition)))
    if offset is not None:
        fields.append(("errors.offset", str(offset)))
    fields += [
        ("errors.stage", stage),
        ("errors.exception.class", f"{type(error).__module__}.{type(error).__qualname__}"),
        ("errors.exception.message", str(error)[:MAX_MESSAGE]),
        ("errors.source", source),
    ]
    field = getattr(error, "field", None)
    if field:
        fields.append(("errors.field", str(field)))
    if where:
        fields.append(("errors.source.position", where))
    if group:
        fields.append(("errors.consumer.group", group))
    if redacted is not None:
        fields.append(("errors.redacted", "true" if redacted else "false"))
    if original_size is not None:
        fields += [("errors.original.size", str(original_size)), ("errors.truncated", "true")]
    fields.append(("errors.timestamp", datetime.now(UTC).isoformat(timespec="milliseconds")))
    out.extend((k, v.encode()) for k, v in fields)
    return out

"""The compacted-topic reader's record rules without a broker: what is retried, what is
dead-lettered (the broker behaviour is in tests/integration/test_compacted_reader.py)."""

from __future__ import annotations

from typing import Any

from bus.compacted import CompactedReader, Handler, Record
from bus.errors import SchemaRegistryError
from bus.settings import Settings
from tests.support.messages import FakeMessage
from tests.support.producing import KeptProducer

TOPIC = "u.participation.identity"


class Status(Exception):
    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.http_status_code = code


def registry_error(code: int | None) -> SchemaRegistryError:
    err = SchemaRegistryError(f"registry answered {code}")
    err.__cause__ = Status(code)
    return err


def message(key: bytes | None, value: bytes | None, offset: int = 7) -> FakeMessage:
    return FakeMessage(TOPIC, key, value, partition=1, offset=offset, headers=[("trace", b"t1")])


def reader(decode: Any, applied: list[Record], counts: list[tuple[str, str]]) -> tuple[CompactedReader, KeptProducer]:
    def apply(rec: Record) -> str:
        applied.append(rec)
        return "tombstone" if rec.value is None else "applied"

    r = CompactedReader(Settings().kafka, {TOPIC: Handler("participation.identity", decode, apply)},
                        source="unit", count=lambda t, o: counts.append((t, o)))
    producer = KeptProducer()
    r._producer = producer  # type: ignore[assignment]
    return r, producer


def test_a_registry_outage_is_waited_out_not_dead_lettered() -> None:
    failures = [registry_error(503), registry_error(None)]

    def decode(raw: bytes) -> dict[str, Any]:
        if failures:
            raise failures.pop(0)
        return {"v": raw}

    applied: list[Record] = []
    counts: list[tuple[str, str]] = []
    r, producer = reader(decode, applied, counts)
    r._stopping.wait = lambda timeout=None: False  # type: ignore[method-assign]  # no real sleep
    r._handle(message(b"k", b"x"))  # type: ignore[arg-type]
    assert producer.sent == [] and [a.value for a in applied] == [{"v": b"x"}]
    assert counts == [("participation.identity", "applied")]
    assert r.error is None


def test_an_unknown_schema_id_and_any_other_exception_are_dead_lettered_with_the_original_record() -> None:
    def decode(raw: bytes) -> dict[str, Any]:
        if raw == b"404":
            raise registry_error(404)
        raise OverflowError("date value out of range")

    applied: list[Record] = []
    counts: list[tuple[str, str]] = []
    r, producer = reader(decode, applied, counts)
    r._handle(message(b"a", b"404", offset=3))  # type: ignore[arg-type]
    r._handle(message(b"b", b"year 10000", offset=4))  # type: ignore[arg-type]
    assert applied == []
    assert [(d["topic"], d["key"], d["value"]) for d in producer.sent] == [
        (TOPIC + ".dlq", b"a", b"404"), (TOPIC + ".dlq", b"b", b"year 10000")]
    headers = dict(producer.sent[1]["headers"])
    assert headers["trace"] == b"t1"  # the record's own headers are kept
    assert headers["errors.stage"] == b"unit-decode" and headers["errors.offset"] == b"4"
    assert headers["errors.partition"] == b"1" and headers["errors.exception.class"] == b"builtins.OverflowError"
    assert producer.sent[1]["timestamp"] == 1_748_779_200_000
    assert counts == [("participation.identity", "dead_letter")] * 2 and r.dead_letters == 2


def test_a_tombstone_is_applied_as_a_delete_without_decoding() -> None:
    def decode(raw: bytes) -> dict[str, Any]:
        raise AssertionError("a tombstone has nothing to decode")

    applied: list[Record] = []
    counts: list[tuple[str, str]] = []
    r, producer = reader(decode, applied, counts)
    r._handle(message(b"k", None))  # type: ignore[arg-type]
    assert [(a.key, a.value) for a in applied] == [(b"k", None)] and producer.sent == []
    assert counts == [("participation.identity", "tombstone")]

"""The loader's record handling without a broker: decode, apply, dead-letter, readiness
(the gateway's part on top of ``bus.compacted``, whose broker behaviour is tested in
tests/integration/test_compacted_reader.py)."""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime
from typing import Any, cast

import fastavro
from confluent_kafka import KafkaError
from prometheus_client import CollectorRegistry

from bus.serde import Registry
from bus.settings import Settings
from schemas import load_schema
from sinks.gateway.loader import ViewLoader
from sinks.gateway.metrics import GatewayMetrics
from sinks.gateway.view import Change, View
from tests.support.messages import FakeError, FakeMessage
from tests.support.producing import KeptProducer

PREFIX = "u."
AVAIL = PREFIX + "participation.availability"
OFFERS = PREFIX + "participation.lastminute"
SCHEMAS = {1: fastavro.parse_schema(load_schema("availability.avsc")),
           2: fastavro.parse_schema(load_schema("lastminute_offer.avsc"))}


class FakeRegistry:
    def writer_schema(self, schema_id: int) -> Any:
        return SCHEMAS[schema_id]


def encode(schema_id: int, rec: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    buf.write(struct.pack(">bI", 0, schema_id))
    fastavro.schemaless_writer(buf, SCHEMAS[schema_id], rec)
    return buf.getvalue()


def availability(pid: str, remaining: int = 5) -> bytes:
    return encode(1, {"performance_id": pid, "capacity": 10, "remaining": remaining, "status": "LIMITED",
                      "updated_at": datetime(2025, 6, 1, tzinfo=UTC), "version": 1})


def loader() -> tuple[ViewLoader, KeptProducer, list[Change], GatewayMetrics]:
    metrics = GatewayMetrics(CollectorRegistry())
    got: list[Change] = []
    ld = ViewLoader(Settings(topic_prefix=PREFIX), View(100, seq_base=0), metrics, on_changes=got.extend,
                    registry=cast(Registry, FakeRegistry()))
    producer = KeptProducer()
    ld.reader._producer = producer  # type: ignore[assignment]
    return ld, producer, got, metrics


def handle(ld: ViewLoader, msg: FakeMessage, changes: list[Change]) -> None:
    """One record through the reader, then the batch end that hands the changes on."""
    ld.reader._handle(msg)  # type: ignore[arg-type]
    changes.extend(ld._changes)
    ld._changes.clear()


def test_decoded_record_is_applied_and_counted() -> None:
    ld, producer, _, metrics = loader()
    changes: list[Change] = []
    handle(ld, FakeMessage(AVAIL, b"p1", availability("p1")), changes)
    assert [c.performance_id for c in changes] == ["p1"]
    assert producer.sent == []
    assert metrics.records.labels("participation.availability", "applied")._value.get() == 1


def test_undecodable_record_is_dead_lettered_with_original_bytes_and_errors_headers() -> None:
    ld, producer, _, metrics = loader()
    changes: list[Change] = []
    handle(ld, FakeMessage(AVAIL, b"p1", b"\x07garbage", partition=2, offset=41), changes)
    assert changes == []
    [dead] = producer.sent
    assert dead["topic"] == "u.participation.availability.dlq"
    assert dead["value"] == b"\x07garbage" and dead["key"] == b"p1"
    headers = dict(dead["headers"])
    assert headers["errors.offset"] == b"41" and headers["errors.partition"] == b"2"
    assert headers["errors.stage"] == b"gateway-decode"
    assert b"magic byte" in headers["errors.exception.message"]
    assert metrics.records.labels("participation.availability", "dead_letter")._value.get() == 1


def test_key_that_differs_from_the_performance_id_is_dead_lettered() -> None:
    ld, producer, _, _ = loader()
    changes: list[Change] = []
    handle(ld, FakeMessage(AVAIL, b"other", availability("p1")), changes)
    assert changes == [] and len(producer.sent) == 1
    assert b"differs" in dict(producer.sent[0]["headers"])["errors.exception.message"]


def test_tombstone_without_a_key_is_dead_lettered() -> None:
    ld, producer, _, _ = loader()
    handle(ld, FakeMessage(OFFERS, None, None), [])
    assert producer.sent[0]["topic"] == "u.participation.lastminute.dlq"


def test_ready_once_every_partition_reported_its_end() -> None:
    ld, _, _, metrics = loader()
    ld.reader._pending = {(AVAIL, 0): None, (OFFERS, 0): None}
    eof = FakeError(KafkaError._PARTITION_EOF)
    handle(ld, FakeMessage(AVAIL, None, None, error=eof), [])
    assert not ld.ready.is_set()
    handle(ld, FakeMessage(OFFERS, None, None, error=eof), [])
    assert ld.ready.is_set()
    assert metrics.ready._value.get() == 1

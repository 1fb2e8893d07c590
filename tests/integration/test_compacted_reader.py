"""The one compacted-topic reader (``bus.compacted``) against the real broker and registry:
catch-up over empty partitions and transaction markers, poison records dead-lettered
while the reader stays ready, and the identity crosswalk of a real streams worker."""

from __future__ import annotations

import asyncio
import io
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
import httpx
import pytest
from confluent_kafka import Message, TopicPartition
from prometheus_client import CollectorRegistry

from bus.compacted import CompactedMetrics, CompactedReader, Handler, Record
from bus.kafka import make_admin, make_consumer, make_producer
from bus.serde import AvroDeserializer, AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import IDENTITY, PARTITIONS, apply_catalog
from schemas import load_schema
from streams.identity.crosswalk import Crosswalk
from streams.identity.reader import CrosswalkReader

from .streams.harness import Worker, fresh

pytestmark = pytest.mark.integration

WAIT_S = 30.0
YEAR_10000_MS = 253_402_343_999_000  # 9999-12-31T23:59:59-12:00, i.e. year 10000 in UTC
GARBAGE = b"\x07 not avro at all"


@pytest.fixture
def s(bus_settings: Settings) -> Settings:
    return fresh(bus_settings, "cr")


class Links:
    """Writes identity links the way the worker does, and the poison no worker would."""

    def __init__(self, settings: Settings, registry: Registry) -> None:
        self.topic = settings.topic_prefix + IDENTITY
        self.settings = settings
        self.serialize = AvroSerializer(registry, self.topic, "identity_link.avsc")
        self.producer = make_producer(settings.kafka)

    def link(self, key: str, pid: str) -> dict[str, Any]:
        ns, value = key.split("|", 1)
        return {"namespace": ns, "value": value, "performance_id": pid, "learned_from": "f1",
                "event_time": 1_748_779_200_000}

    def good(self, key: str, pid: str) -> bytes:
        return self.serialize(self.link(key, pid)) or b""

    def year_10000(self, key: str) -> bytes:
        """Wire-format Avro whose event_time fastavro cannot turn into a datetime."""
        buf = io.BytesIO()
        buf.write(struct.pack(">bI", 0, self.serialize.schema_id))
        fastavro.schemaless_writer(buf, fastavro.parse_schema(load_schema("identity_link.avsc")),
                                   {**self.link(key, "dip|X|1"), "event_time": YEAR_10000_MS})
        return buf.getvalue()

    def send(self, key: bytes, value: bytes | None, partition: int = 0) -> None:
        self.producer.produce(self.topic, key=key, value=value, partition=partition)

    def flush(self) -> None:
        assert self.producer.flush(WAIT_S) == 0

    def in_transaction(self, records: list[tuple[bytes, bytes]], partition: int = 0) -> None:
        """Produce and commit: the partition's last offset is then a commit marker, no record."""
        tx = make_producer(self.settings.kafka, transactional_id=f"test-{uuid.uuid4().hex[:8]}")
        tx.init_transactions(WAIT_S)
        tx.begin_transaction()
        for key, value in records:
            tx.produce(self.topic, key=key, value=value, partition=partition)
        tx.commit_transaction(WAIT_S)
        # commit_transaction returns once the coordinator decided; the broker writes the
        # partition's commit marker after that. Until it does, a read_committed reader sees
        # an empty partition (its last stable offset is still 0) and is rightly ready with
        # nothing: wait for the marker, which is the case this helper is for.
        probe = make_consumer(self.settings.kafka, f"test-lso-{uuid.uuid4().hex[:6]}",
                              isolation_level="read_committed")
        try:
            deadline = time.monotonic() + WAIT_S
            while probe.get_watermark_offsets(TopicPartition(self.topic, partition),
                                              timeout=10)[1] < len(records) + 1:
                assert time.monotonic() < deadline, "the commit marker was never written"
                time.sleep(0.05)
        finally:
            probe.close()


def dead_letters(settings: Settings, topic: str, want: int) -> list[Message]:
    consumer = make_consumer(settings.kafka, f"test-dlq-{uuid.uuid4().hex[:6]}")
    out: list[Message] = []
    try:
        consumer.subscribe([topic + ".dlq"])
        deadline = time.monotonic() + WAIT_S
        while len(out) < want and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and not msg.error():
                out.append(msg)
    finally:
        consumer.close()
    return out


@pytest.fixture
def links(s: Settings, registry: Registry) -> Links:
    return Links(s, registry)


class Table:
    """A caller's table: what the reader applied, and a key whose apply always fails."""

    def __init__(self) -> None:
        self.rows: dict[bytes, Any] = {}
        self.lock = threading.Lock()

    def apply(self, rec: Record) -> str:
        if rec.key == b"vendor:x|refused":
            raise RuntimeError("this table refuses this key")
        with self.lock:
            if rec.value is None:
                self.rows.pop(rec.key or b"", None)
                return "tombstone"
            self.rows[rec.key or b""] = rec.value["performance_id"]
        return "applied"


@pytest.fixture
def reader_of(s: Settings, registry: Registry) -> Iterator[Any]:
    started: list[CompactedReader] = []

    def make(table: Table, metrics: CompactedMetrics, **kw: Any) -> CompactedReader:
        topic = s.topic_prefix + IDENTITY
        reader = CompactedReader(s.kafka, {topic: Handler(IDENTITY, AvroDeserializer(
            registry, "identity_link.avsc"), table.apply)}, source="test", count=metrics.count, **kw)
        started.append(reader)
        return reader.start()

    yield make
    for reader in started:
        reader.close()


def test_ready_with_empty_partitions_and_a_commit_marker_as_the_last_offset(
        links: Links, reader_of: Any) -> None:
    links.in_transaction([(b"dip|A|1", links.good("dip|A|1", "dip|A|1")),
                          (b"uit|a", links.good("uit|a", "dip|A|1"))])
    table = Table()
    reader = reader_of(table, CompactedMetrics(CollectorRegistry(), "test"))
    assert reader.wait_ready(WAIT_S), f"not ready: {reader.error}"
    assert table.rows == {b"dip|A|1": "dip|A|1", b"uit|a": "dip|A|1"}
    assert reader.healthy


def test_poison_records_are_dead_lettered_with_their_bytes_and_the_reader_stays_ready(
        s: Settings, links: Links, reader_of: Any) -> None:
    overflow = links.year_10000("dip|Y|1")
    before = [(b"dip|A|1", links.good("dip|A|1", "dip|A|1")), (b"dip|G|1", GARBAGE),
              (b"dip|Y|1", overflow), (b"vendor:x|refused", links.good("vendor:x|refused", "dip|A|1")),
              (b"dip|A|1", None), (b"dip|B|1", links.good("dip|B|1", "dip|B|1"))]
    for key, value in before:
        links.send(key, value)
    links.flush()
    table = Table()
    metrics = CompactedMetrics(CollectorRegistry(), "test")
    reader = reader_of(table, metrics)
    assert reader.wait_ready(WAIT_S), f"not ready: {reader.error}"
    assert table.rows == {b"dip|B|1": "dip|B|1"}  # dip|A|1 deleted by its tombstone
    # Following on: more poison, then a good link, and the reader is still there.
    links.send(b"dip|Y|2", links.year_10000("dip|Y|2"))
    links.send(b"dip|C|1", links.good("dip|C|1", "dip|C|1"))
    links.flush()
    deadline = time.monotonic() + WAIT_S
    while b"dip|C|1" not in table.rows and time.monotonic() < deadline:
        time.sleep(0.05)
    assert table.rows.get(b"dip|C|1") == "dip|C|1"
    assert reader.ready.is_set() and reader.healthy

    letters = {m.key(): m for m in dead_letters(s, links.topic, 4)}
    assert set(letters) == {b"dip|G|1", b"dip|Y|1", b"vendor:x|refused", b"dip|Y|2"}
    assert letters[b"dip|G|1"].value() == GARBAGE
    assert letters[b"dip|Y|1"].value() == overflow
    headers = {k: v for k, v in letters[b"dip|Y|1"].headers() or []}
    assert headers["errors.stage"] == b"test-decode"
    assert headers["errors.partition"] == b"0" and headers["errors.offset"] == b"2"
    assert headers["errors.topic"] == links.topic.encode()
    assert b"OverflowError" in headers["errors.exception.class"] + headers["errors.exception.message"]
    refused = {k: v for k, v in letters[b"vendor:x|refused"].headers() or []}
    assert refused["errors.stage"] == b"test-apply"
    assert metrics.records.labels("test", IDENTITY, "dead_letter")._value.get() == 4


def test_a_record_is_handed_on_when_it_arrives_not_when_a_poll_fills_or_times_out(
        links: Links, reader_of: Any) -> None:
    """The gateway pushes a change to its SSE clients after the reader's batch: a batch must
    not wait for more records (or the whole poll) once one is there. Polls here last 20 s;
    a link produced after the reader is ready is applied and handed on well before."""
    links.send(b"dip|A|1", links.good("dip|A|1", "dip|A|1"))
    links.flush()
    table = Table()
    batches: list[dict[bytes, Any]] = []

    def on_batch() -> None:
        with table.lock:
            batches.append(dict(table.rows))

    reader = reader_of(table, CompactedMetrics(CollectorRegistry(), "test"), poll_s=20.0, on_batch=on_batch)
    assert reader.wait_ready(WAIT_S), f"not ready: {reader.error}"
    links.send(b"uit|b", links.good("uit|b", "dip|A|1"))
    links.flush()
    deadline = time.monotonic() + 10.0
    while not any(b"uit|b" in rows for rows in batches) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert table.rows.get(b"uit|b") == "dip|A|1", "the record waited for the poll to fill or time out"
    assert any(b"uit|b" in rows for rows in batches), "applied, but not handed on (on_batch)"
    reader.stop()
    links.send(b"uit|c", links.good("uit|c", "dip|A|1"))  # wakes the reader's 20 s poll to stop
    links.flush()


def test_a_reader_started_before_its_topic_exists_is_unhealthy_until_it_is_created(
        bus_settings: Settings, registry: Registry) -> None:
    prefix = f"late{uuid.uuid4().hex[:6]}."
    s = bus_settings.model_copy(update={"topic_prefix": prefix})
    table = Table()
    reader = CompactedReader(s.kafka, {prefix + IDENTITY: Handler(IDENTITY, AvroDeserializer(
        registry, "identity_link.avsc"), table.apply)}, source="test").start()
    try:
        deadline = time.monotonic() + WAIT_S
        while reader.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not reader.healthy and not reader.ready.is_set()
        assert "topics apply" in (reader.error or "")
        apply_catalog(make_admin(s.kafka), prefix)
        assert reader.wait_ready(WAIT_S), reader.error
        assert reader.healthy
    finally:
        reader.close()


def test_the_crosswalk_reads_past_poison_links_and_a_commit_marker(
        s: Settings, links: Links, registry: Registry) -> None:
    links.send(b"dip|G|1", GARBAGE, partition=1)
    links.send(b"\xff\xfe not utf-8", links.good("dip|K|1", "dip|K|1"), partition=1)
    links.send(b"dip|Y|1", links.year_10000("dip|Y|1"), partition=1)
    links.flush()
    links.in_transaction([(b"uit|b", links.good("uit|b", "dip|B|1"))], partition=1)
    crosswalk = Crosswalk()
    reader = CrosswalkReader(s, crosswalk, registry)
    try:
        reader.start(timeout=WAIT_S)
        assert crosswalk.get("uit|b") == "dip|B|1"
        assert len(crosswalk) == 1
    finally:
        reader.close()
    letters = dead_letters(s, links.topic, 3)
    assert sorted(m.value() for m in letters) == sorted(
        [GARBAGE, links.good("dip|K|1", "dip|K|1"), links.year_10000("dip|Y|1")])
    assert all(dict(m.headers() or [])["errors.source"] == b"crosswalk" for m in letters)


def test_after_a_rebalance_the_crosswalk_holds_every_link_published_before_it(
        s: Settings, links: Links, registry: Registry) -> None:
    """What a streams worker waits for before it routes a partition it took over
    (``CrosswalkReader.read_to_now``): the links another worker published up to then,
    here 20,000 of them just sent, and a commit marker as one partition's last offset."""
    crosswalk = Crosswalk()
    reader = CrosswalkReader(s, crosswalk, registry)
    try:
        reader.start(timeout=WAIT_S)
        assert len(crosswalk) == 0
        keys = [f"vendor:x:acct|{n}" for n in range(20_000)]
        for n, key in enumerate(keys):
            links.send(key.encode(), links.good(key, f"dip|P|{n}"), partition=n % PARTITIONS)
        links.flush()
        links.in_transaction([(b"uit|last", links.good("uit|last", "dip|P|last"))], partition=2)
        assert asyncio.run(reader.read_to_now(WAIT_S))
        missing = [k for n, k in enumerate(keys) if crosswalk.get(k) != f"dip|P|{n}"]
        assert missing == [] and crosswalk.get("uit|last") == "dip|P|last"
    finally:
        reader.close()


@pytest.mark.slow
def test_a_worker_starts_with_poison_identity_links_on_the_topic(
        s: Settings, links: Links, tmp_path: Path) -> None:
    for p in range(PARTITIONS):
        links.send(f"dip|Y|{p}".encode(), links.year_10000(f"dip|Y|{p}"), partition=p)
    links.send(b"\xff not utf-8", links.good("dip|K|1", "dip|K|1"))
    links.send(b"dip|G|1", GARBAGE)
    links.send(b"dip|A|1", links.good("dip|A|1", "dip|A|1"))
    links.flush()
    worker = Worker("w1", s, tmp_path / "state", tmp_path / "w1.log").start()
    try:
        deadline = time.monotonic() + 180
        ready = False
        while not ready and worker.alive() and time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{worker.port}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                pass
            time.sleep(1)
        assert ready, f"worker not ready (alive: {worker.alive()}):\n" + \
            (tmp_path / "w1.log").read_text(errors="replace")[-3000:]
    finally:
        worker.stop()
    letters = dead_letters(s, links.topic, PARTITIONS + 2)
    assert len(letters) == PARTITIONS + 2
    assert GARBAGE in {m.value() for m in letters}

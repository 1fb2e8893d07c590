"""Test doubles that ship with the sink: a small realistic dataset (facts and derived
records), a producer that puts it on the sink's topics the way the bus does, fresh
settings per test, and the sink as a subprocess for crash tests.

Used by the tests and the throughput measurement; nothing here runs in production.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import TopicPartition

from bus.clickhouse import make_clickhouse_client
from bus.kafka import make_admin, make_consumer, make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import (
    ATTENDANCE,
    AVAILABILITY,
    FACTS,
    IDENTITY,
    LASTMINUTE,
    PERFORMANCES,
    SALES,
    SNAPSHOTS,
    TICKET_EVENTS,
    UNMATCHED,
    apply_catalog,
)
from schemas.models import (
    Attendance,
    Availability,
    AvailabilityStatus,
    AvroModel,
    Buyer,
    IdentityLink,
    LastMinuteOffer,
    Performance,
    SalesSnapshot,
    SalesWindow,
    SnapshotLine,
    TicketEvent,
    TicketEventType,
    TicketType,
    Venue,
    WindowGranularity,
)

__all__ = [
    "ClickHouseServerProcess",
    "Dataset",
    "SinkProcess",
    "buyer_hash",
    "caught_up",
    "drop_database",
    "fresh_settings",
    "make_dataset",
    "produce_dataset",
    "sink_env",
    "sink_topics",
    "wait_until",
]

REPO_ROOT = Path(__file__).resolve().parents[2]

KIND_HEADER = "cultuurbus.kind"
_FACT_TOPIC = {"ticket": (TICKET_EVENTS, "ticket_event.avsc"),
               "snapshot": (SNAPSHOTS, "sales_snapshot.avsc"),
               "performance": (PERFORMANCES, "performance.avsc")}
_DERIVED_SCHEMA = {AVAILABILITY: "availability.avsc", ATTENDANCE: "attendance.avsc",
                   SALES: "sales_window.avsc", LASTMINUTE: "lastminute_offer.avsc",
                   IDENTITY: "identity_link.avsc"}

VENUES = [  # id, name, city, region, country
    ("v01", "Stadsschouwburg", "Amsterdam", "Noord-Holland", "NL"),
    ("v02", "Muziekgebouw", "Amsterdam", "Noord-Holland", "NL"),
    ("v03", "De Kleine Komedie", "Amsterdam", "Noord-Holland", "NL"),
    ("v04", "Philharmonie", "Haarlem", "Noord-Holland", "NL"),
    ("v05", "Toneelschuur", "Haarlem", "Noord-Holland", "NL"),
    ("v06", "Theater Rotterdam", "Rotterdam", "Zuid-Holland", "NL"),
    ("v07", "De Doelen", "Rotterdam", "Zuid-Holland", "NL"),
    ("v08", "Theater aan het Spui", "Den Haag", "Zuid-Holland", "NL"),
    ("v09", "Tivoli", "Utrecht", "Utrecht", "NL"),
    ("v10", "deSingel", "Antwerpen", "Antwerpen", "BE"),
]
GENRES = ["Toneel", "Muziek", "Dans", "Cabaret"]


def buyer_hash(n: int) -> str:
    """A stand-in for the connector's HMAC pseudonym of buyer ``n``."""
    return hashlib.sha256(f"test-buyer-{n}".encode()).hexdigest()


@dataclass
class Dataset:
    """Facts (kind, canonical id, model) and derived records (topic, key, model or None)."""

    facts: list[tuple[str, str, AvroModel]] = field(default_factory=list)
    derived: list[tuple[str, str, AvroModel | None]] = field(default_factory=list)

    def of(self, kind: str) -> list[Any]:
        return [m for k, _, m in self.facts if k == kind]


def make_dataset(seed: int = 7, performances: int = 12, tickets: int = 300,
                 now: datetime | None = None) -> Dataset:
    """A small realistic world: performances at venues, sales, refunds, scans, snapshots."""
    rnd = random.Random(seed)
    now = now or datetime(2025, 3, 1, 12, tzinfo=UTC)
    ds = Dataset()
    pids: list[tuple[str, Performance]] = []
    for i in range(performances):
        vid, name, city, region, country = VENUES[i % len(VENUES)]
        start = now + timedelta(days=rnd.randint(-20, 40), hours=rnd.choice([0, 2, 8]))
        pid = f"dip|NL-25-{1000 + i}-1|1"
        perf = Performance(
            fact_id=f"cal-{i}", event_time=now - timedelta(days=60), ingested_at=now - timedelta(days=60),
            source_system="dip", source_account="dip", performance_key=pid,
            title=f"Voorstelling {i}", genre=GENRES[i % len(GENRES)],
            venue=Venue(id=vid, name=name, city=city, region=region, country=country),
            start=start, capacity=rnd.choice([200, 400, 800]))
        ds.facts.append(("performance", pid, perf))
        pids.append((pid, perf))
        ds.derived.append((IDENTITY, pid, IdentityLink(namespace="dip", value=pid.split("|", 1)[1],
                                                       performance_id=pid, learned_from=perf.fact_id,
                                                       event_time=perf.event_time)))
    for j in range(tickets):
        pid, perf = rnd.choice(pids)
        kind = TicketEventType(rnd.choices(["SOLD", "CANCELLED", "REFUNDED", "RESERVED", "SCANNED"],
                                           [80, 4, 4, 7, 5])[0])
        tt = TicketType(rnd.choices(["NORMAL", "DISCOUNT", "FREE"], [70, 25, 5])[0])
        n = rnd.randint(0, 120)
        ds.facts.append(("ticket", pid, TicketEvent(
            fact_id=f"tix-{seed}-{j}", event_type=kind,
            event_time=perf.start - timedelta(days=rnd.randint(0, 60), minutes=rnd.randint(1, 600)),
            ingested_at=now, source_system="eventix", source_account="acc1",
            performance_key=pid, quantity=rnd.randint(1, 4), ticket_type=tt,
            price_cents=0 if tt == "FREE" else rnd.choice([1500, 2250, 3500]), channel="web",
            buyer=Buyer(id_hash=buyer_hash(n), postcode_area=f"{1000 + n % 17 * 7}",
                        country="NL", birth_year=1950 + n % 50))))
    for pid, perf in pids[:2]:  # two performances also report cumulative snapshots
        for k, day in enumerate((30, 10)):
            ds.facts.append(("snapshot", pid, SalesSnapshot(
                fact_id=f"snap-{pid}-{k}", event_time=perf.start - timedelta(days=day),
                ingested_at=now, source_system="boxoffice", source_account="b1",
                performance_key=pid, capacity=perf.capacity,
                lines=[SnapshotLine(ticket_type=TicketType.NORMAL, tickets=10 * (k + 1),
                                    revenue_cents=25_000 * (k + 1))])))
    _derive(ds, pids, now)
    return ds


def _derive(ds: Dataset, pids: list[tuple[str, Performance]], now: datetime) -> None:
    for i, (pid, perf) in enumerate(pids):
        for v in (1, 2, 3):
            ds.derived.append((AVAILABILITY, pid, Availability(
                performance_id=pid, capacity=perf.capacity, sold=10 * v,
                remaining=(perf.capacity or 0) - 10 * v,
                status=AvailabilityStatus.AVAILABLE, title=perf.title, venue_name=perf.venue.name,
                start=perf.start, updated_at=now + timedelta(seconds=v), version=v)))
        ds.derived.append((ATTENDANCE, pid, Attendance(performance_id=pid, scanned=i, sold=30,
                                                       updated_at=now)))
        ws = datetime(2025, 2, 1 + i % 20, tzinfo=UTC)
        ds.derived.append((SALES, f"{pid}|DAY|{int(ws.timestamp() * 1000)}|NORMAL|web", SalesWindow(
            performance_id=pid, granularity=WindowGranularity.DAY, window_start=ws,
            ticket_type=TicketType.NORMAL,
            channel="web", tickets=3 + i, revenue_cents=(3 + i) * 2500, updated_at=now)))
        if i % 3 == 0:
            ds.derived.append((LASTMINUTE, pid, LastMinuteOffer(
                performance_id=pid, title=perf.title, venue_name=perf.venue.name, start=perf.start,
                remaining=5, capacity=perf.capacity or 0, status=AvailabilityStatus.LIMITED,
                updated_at=now)))
            if i % 2 == 0:
                ds.derived.append((LASTMINUTE, pid, None))


def produce_dataset(settings: Settings, registry: Registry, dataset: Dataset,
                    extra_raw: Iterable[tuple[str, bytes | None, bytes | None]] = ()) -> int:
    """Produce the dataset under ``settings.topic_prefix``: facts onto ``participation.facts``
    (keyed by canonical id, header ``cultuurbus.kind``), derived records onto their topics,
    then ``extra_raw`` (unprefixed topic, key, value) as they are. Returns the record count.
    """
    prefix = settings.topic_prefix
    sers: dict[str, AvroSerializer] = {}

    def ser(topic: str, schema: str) -> AvroSerializer:
        if topic not in sers:
            sers[topic] = AvroSerializer(registry, prefix + topic, schema)
        return sers[topic]

    producer = make_producer(settings.kafka, linger_ms=20)
    n = 0

    def send(topic: str, key: str | bytes | None, value: bytes | None,
             headers: list[tuple[str, str | bytes | None]] | None = None) -> None:
        nonlocal n
        while True:
            try:
                producer.produce(prefix + topic, key=key, value=value, headers=headers)
                break
            except BufferError:
                producer.poll(0.2)
        n += 1
        if n % 1000 == 0:
            producer.poll(0)

    for kind, pid, model in dataset.facts:
        topic, schema = _FACT_TOPIC[kind]
        send(FACTS, pid, ser(topic, schema)(model), [(KIND_HEADER, kind.encode())])
    for topic, key, maybe in dataset.derived:
        send(topic, key, None if maybe is None else ser(topic, _DERIVED_SCHEMA[topic])(maybe))
    for topic, raw_key, value in extra_raw:
        send(topic, raw_key, value)
    left = producer.flush(60)
    if left:
        raise RuntimeError(f"{left} test records not acknowledged by Kafka")
    return n



def fresh_settings(base: Settings, tag: str, **sink: Any) -> Settings:
    """``base`` under a new topic prefix (catalog applied), database and consumer group."""
    suffix = uuid.uuid4().hex[:8]
    prefix = f"{tag}{suffix}."
    apply_catalog(make_admin(base.kafka), prefix)
    return base.model_copy(update={
        "topic_prefix": prefix,
        "clickhouse": base.clickhouse.model_copy(update={"database": f"{tag}_{suffix}"}),
        "sink": base.sink.model_copy(update={"group_id": f"sink-{tag}-{suffix}", **sink}),
    })


def sink_topics(settings: Settings, with_unmatched: bool = True) -> list[str]:
    """The prefixed topics the sink reads."""
    names = [FACTS, AVAILABILITY, ATTENDANCE, SALES, LASTMINUTE, IDENTITY]
    return [settings.topic_prefix + t for t in (*names, UNMATCHED)[: len(names) + with_unmatched]]


def caught_up(settings: Settings, topics: Iterable[str]) -> bool:
    """Whether the sink's group committed every partition of ``topics`` up to its end."""
    consumer = make_consumer(settings.kafka, settings.sink.group_id)
    try:
        parts: list[TopicPartition] = []
        for topic in topics:
            meta = consumer.list_topics(topic, timeout=10).topics[topic]
            parts.extend(TopicPartition(topic, p) for p in meta.partitions)
        committed = {(tp.topic, tp.partition): tp.offset
                     for tp in consumer.committed(parts, timeout=10)}
        for tp in parts:
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            if high > 0 and committed[(tp.topic, tp.partition)] < high:
                return False
        return True
    finally:
        consumer.close()


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Call ``check()`` until it returns something truthy or ``timeout`` passes; return it."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    return value


def sink_env(settings: Settings, metrics_port: int = 0) -> dict[str, str]:
    """Environment for a sink subprocess with exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CULTUURBUS_")}
    s = settings.sink
    env.update({
        "CULTUURBUS_CONFIG_FILE": os.devnull,
        "CULTUURBUS_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "CULTUURBUS_REGISTRY__URL": settings.registry.url,
        "CULTUURBUS_CLICKHOUSE__URL": settings.clickhouse.url,
        "CULTUURBUS_CLICKHOUSE__DATABASE": settings.clickhouse.database,
        "CULTUURBUS_TOPIC_PREFIX": settings.topic_prefix,
        "CULTUURBUS_SINK__GROUP_ID": s.group_id,
        "CULTUURBUS_SINK__BATCH_MAX_ROWS": str(s.batch_max_rows),
        "CULTUURBUS_SINK__BATCH_MAX_SECONDS": str(s.batch_max_seconds),
        "CULTUURBUS_SINK__BACKOFF_MAX_S": str(s.backoff_max_s),
        "CULTUURBUS_SINK__METRICS_PORT": str(metrics_port),
        "CULTUURBUS_LOG_FORMAT": "text",
        "PYTHONPATH": str(REPO_ROOT),
    })
    return env


class SinkProcess:
    """``python -m sinks.clickhouse sink clickhouse`` as a subprocess, for crash tests.

    Lifecycle: ``start()`` spawns it; ``kill9()`` crashes it; ``terminate()`` sends
    SIGTERM and waits (graceful stop: flush, commit, close).
    """

    def __init__(self, settings: Settings, log: Path, *args: str) -> None:
        self.settings = settings
        self.log = log
        self.args = args
        self.metrics_port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SinkProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sinks.clickhouse", "sink", "clickhouse", *self.args],
                env=sink_env(self.settings, self.metrics_port), stdout=out,
                stderr=subprocess.STDOUT, cwd=REPO_ROOT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def metric(self, name: str) -> float:
        """Sum of a metric's samples from /metrics (0 while it cannot be read)."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",  # noqa: S310
                                        timeout=2) as r:
                text = r.read().decode()
        except OSError:
            return 0.0
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(name + "{") or line.startswith(name + " "))

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def drop_database(settings: Settings) -> None:
    """Remove a test's database from a server (embedded ones live in temporary dirs)."""
    if not settings.clickhouse.url.startswith("http"):
        return
    try:
        client = make_clickhouse_client(settings.clickhouse, create_database=False)
    except Exception:  # the server is gone: nothing to clean
        return
    try:
        client.command(f"DROP DATABASE IF EXISTS `{settings.clickhouse.database}`")
    finally:
        client.close()


class ClickHouseServerProcess:
    """A ClickHouse server of a test's own (``ops.stack.clickhouse_server``), which the
    test may stop and start again on the same ports and data directory; never the
    session's shared one."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.http, self.tcp = _free_port(), _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http}"

    def _up(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as resp:  # noqa: S310 - loopback
                return bool(resp.status == 200)
        except OSError:
            return False

    def start(self) -> ClickHouseServerProcess:
        log_path = self.directory.parent / "server.log"
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
                [sys.executable, "-m", "ops.stack.clickhouse_server", "--dir", str(self.directory),
                 "--http-port", str(self.http), "--tcp-port", str(self.tcp)],
                cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        if not wait_until(self._up, 90, 0.3):
            raise RuntimeError(f"ClickHouse did not answer within 90 s: {log_path.read_text()[-2000:]}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

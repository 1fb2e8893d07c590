"""A small realistic world for the sink's tests: performances at venues, sales, refunds,
scans and snapshots (facts), the records the streams worker would derive from them,
and a producer that puts both on the sink's topics the way the bus does."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bus.codec import KIND_HEADER
from bus.kafka import make_producer
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
    spec,
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

__all__ = ["Dataset", "buyer_hash", "make_dataset", "produce_dataset"]

#: Fact kind -> the topic whose subject holds its schema.
FACT_TOPIC = {"ticket": TICKET_EVENTS, "snapshot": SNAPSHOTS, "performance": PERFORMANCES}

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

    def ser(topic: str) -> AvroSerializer:
        if topic not in sers:
            schema = spec(topic).value_schema
            assert schema is not None, topic
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
        topic = FACT_TOPIC[kind]
        send(FACTS, pid, ser(topic)(model), [(KIND_HEADER, kind.encode())])
    for topic, key, maybe in dataset.derived:
        send(topic, key, None if maybe is None else ser(topic)(maybe))
    for topic, raw_key, value in extra_raw:
        send(topic, raw_key, value)
    left = producer.flush(60)
    if left:
        raise RuntimeError(f"{left} test records not acknowledged by Kafka")
    return n

"""The gateway against real Kafka and the registry: load to the end, serve, stream, resume."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Generator, Iterator
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest
from confluent_kafka import Producer

from bus.kafka import make_consumer, make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.topics import AVAILABILITY, LASTMINUTE, dlq_of
from schemas.models import Availability, AvailabilityStatus, LastMinuteOffer, utcnow
from sinks.gateway.client import SseEvent, stream_events
from sinks.gateway.server import Gateway

pytestmark = pytest.mark.integration

WAIT_S = 30.0


class Records:
    """Puts derived records on the session's topics, as the streams would."""

    def __init__(self, settings: Settings, registry: Registry) -> None:
        prefix = settings.topic_prefix
        self.producer: Producer = make_producer(settings.kafka)
        self.avail_topic = prefix + AVAILABILITY
        self.offer_topic = prefix + LASTMINUTE
        self.avail = AvroSerializer(registry, self.avail_topic, "availability.avsc")
        self.offer = AvroSerializer(registry, self.offer_topic, "lastminute_offer.avsc")

    def availability(self, pid: str, remaining: int, version: int, capacity: int = 100,
                     city: str = "Utrecht", hours: float = 6) -> Availability:
        now = utcnow()
        rec = Availability(performance_id=pid, capacity=capacity, sold=capacity - remaining,
                           remaining=remaining, status=AvailabilityStatus.LIMITED if remaining <= 10
                           else AvailabilityStatus.AVAILABLE, title=f"Show {pid[-6:]}",
                           venue_name="Stadsschouwburg", city=city, region="Utrecht", genre="Toneel",
                           start=now + timedelta(hours=hours), updated_at=now, version=version)
        self.producer.produce(self.avail_topic, key=pid.encode(), value=self.avail(rec))
        self.producer.poll(0)
        return rec

    def offer_for(self, pid: str, remaining: int, capacity: int = 100, hours: float = 6) -> LastMinuteOffer:
        now = utcnow()
        rec = LastMinuteOffer(performance_id=pid, title=f"Show {pid[-6:]}", venue_name="Stadsschouwburg",
                              city="Utrecht", region="Utrecht", genre="Toneel",
                              start=now + timedelta(hours=hours), remaining=remaining, capacity=capacity,
                              status=AvailabilityStatus.LIMITED, updated_at=now)
        self.producer.produce(self.offer_topic, key=pid.encode(), value=self.offer(rec))
        self.producer.poll(0)
        return rec

    def withdraw(self, pid: str) -> None:
        self.producer.produce(self.offer_topic, key=pid.encode(), value=None)

    def raw(self, topic: str, key: str, value: bytes) -> None:
        self.producer.produce(topic, key=key.encode(), value=value)

    def flush(self) -> None:
        assert self.producer.flush(WAIT_S) == 0


def pid() -> str:
    return f"dip|NL-TEST-{uuid.uuid4().hex[:6]}|1"


def wait_for(predicate, what: str, timeout: float = WAIT_S):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def records(topics: Settings, registry: Registry) -> Records:
    return Records(topics, registry)


@pytest.fixture(scope="module")
def preloaded(records: Records) -> dict[str, str]:
    """Records on the topics before the gateway starts."""
    ids = {"kept": pid(), "withdrawn": pid(), "bad": pid()}
    records.availability(ids["kept"], remaining=42, version=1)
    records.availability(ids["kept"], remaining=41, version=2)
    records.offer_for(ids["kept"], remaining=41)
    records.offer_for(ids["withdrawn"], remaining=3)
    records.withdraw(ids["withdrawn"])
    records.raw(records.avail_topic, ids["bad"], b"\x00\x00\x00\x00\x07not avro at all")
    records.flush()
    return ids


@pytest.fixture(scope="module")
def gateway(topics: Settings, preloaded: dict[str, str]) -> Iterator[Gateway]:
    settings = topics.model_copy(update={"gateway": topics.gateway.model_copy(
        update={"heartbeat_s": 1.0, "sse_buffer": 100})})
    gw = Gateway(settings, host="127.0.0.1", port=0).start()
    try:
        wait_for(lambda: httpx.get(f"{gw.url}/healthz").status_code == 200, "the gateway to be ready")
        yield gw
    finally:
        gw.close()


@pytest.fixture
def http(gateway: Gateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=httpx.Timeout(WAIT_S)) as c:
        yield c


def test_ready_means_every_record_already_on_the_topics_is_served(
        http: httpx.Client, preloaded: dict[str, str]) -> None:
    r = http.get(f"/v1/performances/{quote(preloaded['kept'], safe='')}/availability")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["remaining"] == 41 and body["version"] == 2
    assert body["bookingAvailability"] == {"type": "Available", "capacity": 100, "remainingCapacity": 41}
    offers = [d["performance_id"] for d in http.get("/v1/lastminute", params={"limit": 1000}).json()["items"]]
    assert preloaded["kept"] in offers
    assert preloaded["withdrawn"] not in offers  # its tombstone came after it


def test_undecodable_record_goes_to_the_dlq_with_its_bytes_and_errors_headers(
        topics: Settings, gateway: Gateway, preloaded: dict[str, str]) -> None:
    dlq = topics.topic_prefix + dlq_of(AVAILABILITY)
    consumer = make_consumer(topics.kafka, f"test-gw-dlq-{uuid.uuid4().hex[:6]}")
    try:
        consumer.subscribe([dlq])

        def found():  # type: ignore[no-untyped-def]
            msg = consumer.poll(0.5)
            if msg is None or msg.error() or msg.key() != preloaded["bad"].encode():
                return None
            return msg

        msg = wait_for(found, "the dead letter")
    finally:
        consumer.close()
    assert msg.value() == b"\x00\x00\x00\x00\x07not avro at all"
    headers = {k: v for k, v in msg.headers()}
    assert headers["errors.stage"] == b"gateway-decode"
    assert headers["errors.topic"] == (topics.topic_prefix + AVAILABILITY).encode()
    assert b"SchemaRegistryError" in headers["errors.exception.class"] or \
        b"SerializationError" in headers["errors.exception.class"]


def test_new_record_is_served_over_http(http: httpx.Client, records: Records) -> None:
    p = pid()
    records.availability(p, remaining=7, version=1, city="Zwolle")
    records.flush()
    url = f"/v1/performances/{quote(p, safe='')}/availability"
    wait_for(lambda: http.get(url).status_code == 200, "the new performance")
    items = http.get("/v1/availability", params={"city": "zwolle", "status": "LIMITED"}).json()["items"]
    assert [d["performance_id"] for d in items] == [p]


def _collect(events: Generator[SseEvent, None, None], out: list[SseEvent], want: int, done: threading.Event) -> None:
    try:
        for e in events:
            if e.event in ("availability", "lastminute", "lastminute-withdrawn", "reset"):
                out.append(e)
            if len(out) >= want:
                break
    except httpx.HTTPError:
        pass
    finally:
        done.set()
        events.close()


def test_sse_delivers_a_change_and_resumes_from_last_event_id_without_gaps_or_repeats(
        http: httpx.Client, records: Records) -> None:
    p = pid()
    # A snapshot, then a stream from its position: nothing in between can be lost.
    snap = http.get("/v1/availability", params={"limit": 0}).json()
    first: list[SseEvent] = []
    done = threading.Event()
    events = stream_events(http, topics="availability", performance_id=p,
                           last_event_id=snap["last_event_id"])
    reader = threading.Thread(target=_collect, args=(events, first, 2, done), daemon=True)
    reader.start()
    records.availability(p, remaining=20, version=1)
    records.availability(p, remaining=19, version=2)
    records.flush()
    assert done.wait(WAIT_S), "no SSE event within the bounded wait"
    assert [e.json()["remaining"] for e in first] == [20, 19]
    # Away: three changes happen; come back with the last id seen.
    for v, left in ((3, 18), (4, 17), (5, 16)):
        records.availability(p, remaining=left, version=v)
    records.flush()
    url = f"/v1/performances/{quote(p, safe='')}/availability"
    wait_for(lambda: http.get(url).json()["remaining"] == 16, "the view to have all changes")
    second: list[SseEvent] = []
    done2 = threading.Event()
    events = stream_events(http, topics="availability", performance_id=p, last_event_id=first[-1].id)
    reader = threading.Thread(target=_collect, args=(events, second, 4, done2), daemon=True)
    reader.start()
    records.availability(p, remaining=15, version=6)
    records.flush()
    assert done2.wait(WAIT_S), "the resumed stream did not deliver"
    assert [e.json()["remaining"] for e in second] == [18, 17, 16, 15]
    ids = [int(str(e.id)) for e in first + second]
    assert ids == sorted(set(ids))


def test_lastminute_withdrawal_is_streamed(http: httpx.Client, records: Records) -> None:
    p = pid()
    got: list[SseEvent] = []
    done = threading.Event()
    events = stream_events(http, topics="lastminute", performance_id=p, last_event_id=http.get(
        "/v1/lastminute", params={"limit": 0}).json()["last_event_id"])
    threading.Thread(target=_collect, args=(events, got, 2, done), daemon=True).start()
    records.offer_for(p, remaining=2)
    records.withdraw(p)
    records.flush()
    assert done.wait(WAIT_S)
    assert [e.event for e in got] == ["lastminute", "lastminute-withdrawn"]


def test_resume_from_an_id_older_than_the_ring_asks_for_a_refetch(http: httpx.Client, records: Records) -> None:
    p = pid()
    old = http.get("/v1/availability", params={"limit": 0}).json()["last_event_id"]
    for v in range(1, 121):  # the ring holds 100
        records.availability(p, remaining=100 - v % 50, version=v)
    records.flush()
    url = f"/v1/performances/{quote(p, safe='')}/availability"
    wait_for(lambda: http.get(url).json().get("version") == 120, "all 120 changes")
    got: list[SseEvent] = []
    done = threading.Event()
    threading.Thread(target=_collect, args=(stream_events(http, last_event_id=old), got, 1, done),
                     daemon=True).start()
    assert done.wait(WAIT_S)
    assert got[0].event == "reset"


def test_metrics_show_view_size_lag_and_sse(http: httpx.Client, gateway: Gateway) -> None:
    wait_for(lambda: 'cultuurbus_gateway_view_size{view="availability"}' in http.get("/metrics").text,
             "the view size gauge")
    text = http.get("/metrics").text
    for name in ("cultuurbus_gateway_consumer_lag", "cultuurbus_gateway_sse_clients",
                 "cultuurbus_gateway_event_age_seconds_bucket", "cultuurbus_gateway_requests_total",
                 'cultuurbus_gateway_records_total{outcome="dead_letter"'):
        assert name in text, name

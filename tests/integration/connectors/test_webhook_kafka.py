"""The webhook receiver against the real Kafka and schema registry: what a vendor posts is
what lands on the topics, once, without personal data; and a dead Kafka means 503."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from bus.http import HttpServer
from bus.kafka import make_consumer
from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import PERFORMANCES, SNAPSHOTS, TICKET_EVENTS, dlq_of
from connectors.fakes import webhooks as wh
from connectors.fakes.webhooks import FakeEventbriteApi, SignedRequest
from connectors.sdk.context import ConnectorContext
from connectors.ticketing.webhook import WebhookSettings, create_app
from ops.access.principals import CONNECTOR
from ops.stack.ports import free_ports
from tests.integration.conftest import fresh_prefix, with_topics
from tests.support.roles import role_env

pytestmark = pytest.mark.integration

SECRET = "integration-secret-0123"
WRITTEN = (TICKET_EVENTS, SNAPSHOTS, PERFORMANCES, dlq_of(TICKET_EVENTS), dlq_of(SNAPSHOTS),
           dlq_of(PERFORMANCES))
REPO = Path(__file__).resolve().parents[3]


@dataclass
class Record:
    key: str | None
    raw: bytes
    value: dict[str, Any] | None
    headers: dict[str, str]


def read_topic(settings: Settings, registry: Registry, name: str, *, avro: bool = True,
               timeout: float = 30.0) -> list[Record]:
    """Everything on a (prefixed) topic up to its end now; bounded by ``timeout``."""
    topic = settings.topic_prefix + name
    consumer = make_consumer(settings.kafka, f"webhook-test-{uuid.uuid4().hex[:8]}")
    de = AvroDeserializer(registry)
    out: list[Record] = []
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        ends = {}
        for p in meta.partitions:
            lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if hi > lo:
                ends[p] = hi
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            raw = msg.value() or b""
            out.append(Record(msg.key().decode() if msg.key() else None, raw,
                              de(raw) if avro else None,
                              {k: (v or b"").decode() for k, v in (msg.headers() or [])}))
            if msg.offset() >= ends[msg.partition()] - 1:
                del ends[msg.partition()]
        assert not ends, f"timed out reading {topic}"
    finally:
        consumer.close()
    return out


def by_fact_id(records: list[Record], ids: list[str]) -> list[Record]:
    return [r for r in records if r.value and r.value["fact_id"] in ids]


@pytest.fixture(scope="module")
def topics(bus_settings: Settings) -> Settings:
    """This module's own topics: its privacy test reads them whole, and the fuzzing tests of
    other modules write hostile bodies to the session's, dead letters kept as sent (CI: a
    DIP receiver's fuzzed body, dead-lettered with "Jeroen", a fake person's name from our
    code, in it)."""
    return with_topics(fresh_prefix(bus_settings))


@pytest.fixture(scope="module")
def api() -> Iterator[FakeEventbriteApi]:
    with FakeEventbriteApi() as fake:
        yield fake


@pytest.fixture(scope="module")
def webhook_settings(api: FakeEventbriteApi) -> WebhookSettings:
    return WebhookSettings(
        secrets={"eventix/acme": SECRET, "eventbrite/acme": SECRET, "stager/acme": SECRET},
        eventbrite_tokens={"acme": api.token}, eventbrite_api_hosts=(api.host,))


@pytest.fixture(scope="module")
def ctx(topics: Settings) -> Iterator[ConnectorContext]:
    with ConnectorContext(topics, "webhook", serve_metrics=False) as context:
        yield context


@pytest.fixture(scope="module")
def server(ctx: ConnectorContext, webhook_settings: WebhookSettings) -> Iterator[HttpServer]:
    srv = HttpServer(create_app(ctx, webhook_settings), "127.0.0.1", 0).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def http(server: HttpServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def post(http: httpx.Client, req: SignedRequest) -> httpx.Response:
    return http.post(req.path, content=req.body, headers=req.headers)


def test_an_eventix_sale_is_on_ticketing_events_after_the_200(
        http: httpx.Client, topics: Settings, registry: Registry) -> None:
    event_id = f"e-{uuid.uuid4().hex[:8]}"
    order = wh.eventix_order(event_id=event_id, tickets=[("Regulier", 2750), ("CJP korting", 2250)],
                          dip_id="NL-23-1234-5|3")
    resp = post(http, wh.eventix_delivery("acme", SECRET, "order.paid", order))
    assert resp.status_code == 200, resp.text
    ids = resp.json()["fact_ids"]
    got = by_fact_id(read_topic(topics, registry, TICKET_EVENTS), ids)
    assert sorted(r.value["fact_id"] for r in got) == sorted(ids)
    first = next(r for r in got if r.value["ticket_ids"] == [order["tickets"][0]["guid"]])
    assert first.key == f"vendor:eventix:acme|{event_id}" == first.value["performance_key"]
    v = first.value
    assert (v["event_type"], v["ticket_type"], v["price_cents"], v["quantity"]) == ("SOLD", "NORMAL", 2750, 1)
    assert v["order_id"] == order["guid"] and v["source_system"] == "eventix"
    assert {"namespace": "dip", "value": "NL-23-1234-5|00003"} in v["identifiers"]
    assert {"namespace": "vendor:eventix:acme", "value": event_id} in v["identifiers"]
    assert v["buyer"]["postcode_area"] == "3511" and v["buyer"]["birth_year"] == 1984
    assert len(v["buyer"]["id_hash"]) == 64


def test_an_eventbrite_order_is_fetched_and_its_attendees_published(
        http: httpx.Client, api: FakeEventbriteApi, topics: Settings, registry: Registry) -> None:
    event_id, order_id = uuid.uuid4().hex[:10], uuid.uuid4().hex[:10]
    url = api.put_order(wh.eventbrite_order(order_id=order_id, event_id=event_id, attendees=[
        wh.eventbrite_attendee(attendee_id=f"{order_id}-{i}", event_id=event_id, order_id=order_id,
                            ticket_class_name="Studentenkorting", price_cents=1250)
        for i in range(3)]))
    resp = post(http, wh.eventbrite_delivery("acme", SECRET, "order.placed", url))
    assert resp.status_code == 200, resp.text
    got = by_fact_id(read_topic(topics, registry, TICKET_EVENTS), resp.json()["fact_ids"])
    assert len(got) == 3
    assert {r.key for r in got} == {f"vendor:eventbrite:acme|{event_id}"}
    assert {(r.value["event_type"], r.value["ticket_type"], r.value["price_cents"]) for r in got} == {
        ("SOLD", "DISCOUNT", 1250)}
    assert sorted(r.value["ticket_ids"][0] for r in got) == [f"{order_id}-{i}" for i in range(3)]


def _net_sold(records: list[Record]) -> int:
    """Tickets sold by the distinct facts (what a consumer deduplicating by fact id counts)."""
    sign = {"SOLD": 1, "REFUNDED": -1, "CANCELLED": -1}
    distinct = {r.value["fact_id"]: r.value for r in records if r.value}
    return sum(sign.get(v["event_type"], 0) * v["quantity"] for v in distinct.values())


def test_an_eventbrite_order_refunded_before_its_placed_delivery_was_fetched_nets_to_zero(
        http: httpx.Client, api: FakeEventbriteApi, webhook_settings: WebhookSettings,
        topics: Settings, registry: Registry) -> None:
    event_id, order_id = uuid.uuid4().hex[:10], uuid.uuid4().hex[:10]
    attendees = [f"{order_id}-{i}" for i in range(2)]
    # refunded between Eventbrite's order.placed delivery and our fetch of its api_url
    refunded = [wh.eventbrite_attendee(attendee_id=a, event_id=event_id, order_id=order_id,
                                    refunded=True, changed="2025-03-06T08:00:00Z")
                for a in attendees]
    url = api.put_order(wh.eventbrite_order(order_id=order_id, event_id=event_id, status="refunded",
                                         changed="2025-03-06T08:00:00Z", attendees=refunded))
    deliveries = [wh.eventbrite_delivery("acme", SECRET, action, url)
                  for action in ("order.placed", "order.refunded")]
    answers = [post(http, d) for d in deliveries]
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert [a.json()["status"] for a in answers] == ["accepted", "accepted"]

    def on_topic() -> list[Record]:
        return [r for r in read_topic(topics, registry, TICKET_EVENTS)
                if r.value and r.value["ticket_ids"][0] in attendees]

    first = on_topic()
    assert sorted((r.value["ticket_ids"][0], r.value["event_type"]) for r in first) == sorted(
        [(a, kind) for a in attendees for kind in ("SOLD", "REFUNDED")] * 2)
    assert _net_sold(first) == 0
    ids = {r.value["fact_id"] for r in first}
    assert len(ids) == 4  # each attendee's sale and refund, whichever delivery carried it

    # both again, to a receiver that no longer remembers them: published again, same ids
    with ConnectorContext(topics, "webhook", serve_metrics=False) as context:
        srv = HttpServer(create_app(context, webhook_settings), "127.0.0.1", 0).start()
        try:
            with httpx.Client(base_url=srv.url, timeout=30) as c:
                again = [post(c, d).json() for d in deliveries]
        finally:
            srv.stop()
    assert [a["status"] for a in again] == ["accepted", "accepted"]
    second = on_topic()
    assert len(second) == 2 * len(first)
    assert {r.value["fact_id"] for r in second} == ids and _net_sold(second) == 0


def test_an_eventbrite_event_update_is_a_performance_on_the_calendar_topic(
        http: httpx.Client, api: FakeEventbriteApi, topics: Settings, registry: Registry) -> None:
    event_id = uuid.uuid4().hex[:10]
    url = api.put_event(wh.eventbrite_event(event_id=event_id, capacity=333))
    resp = post(http, wh.eventbrite_delivery("acme", SECRET, "event.updated", url))
    assert resp.status_code == 200, resp.text
    (perf,) = by_fact_id(read_topic(topics, registry, PERFORMANCES), resp.json()["fact_ids"])
    assert perf.value["capacity"] == 333 and perf.value["venue"]["city"] == "Den Haag"
    assert perf.key == f"vendor:eventbrite:acme|{event_id}"


def test_a_stager_delivery_is_one_snapshot_on_ticketing_snapshots(
        http: httpx.Client, topics: Settings, registry: Registry) -> None:
    event_id = f"st-{uuid.uuid4().hex[:8]}"
    req = wh.stager_delivery("acme", SECRET, event_id=event_id, dip_id="NL-24-0042-1|12", ticket_types=[
        wh.stager_ticket_type("Regulier", "24.50", 300, 120, 10),
        wh.stager_ticket_type("Vrijkaart", "0", 20, 12, 0)])
    resp = post(http, req)
    assert resp.status_code == 200, resp.text
    (snap,) = by_fact_id(read_topic(topics, registry, SNAPSHOTS), resp.json()["fact_ids"])
    v = snap.value
    assert snap.key == f"vendor:stager:acme|{event_id}"
    assert {(line["ticket_type"], line["tickets"], line["revenue_cents"]) for line in v["lines"]} == {
        ("NORMAL", 170, 170 * 2450), ("FREE", 8, 0)}
    assert (v["reservations"], v["capacity"]) == (10, 320)
    assert {"namespace": "dip", "value": "NL-24-0042-1|00012"} in v["identifiers"]


def test_a_replayed_delivery_is_published_once(
        http: httpx.Client, topics: Settings, registry: Registry) -> None:
    req = wh.eventix_delivery("acme", SECRET, "order.ticket.scanned",
                           order := wh.eventix_order(event_id=f"e-{uuid.uuid4().hex[:8]}"),
                           ticket_guid=order["tickets"][0]["guid"])
    answers = [post(http, req).json()["status"] for _ in range(3)]
    assert answers == ["accepted", "duplicate", "duplicate"]
    got = [r for r in read_topic(topics, registry, TICKET_EVENTS)
           if r.value and r.value["ticket_ids"] == [order["tickets"][0]["guid"]]]
    assert [r.value["event_type"] for r in got] == ["SCANNED"]


def test_after_a_restart_a_replay_is_published_again_with_the_same_fact_ids(
        webhook_settings: WebhookSettings, topics: Settings, registry: Registry) -> None:
    order = wh.eventix_order(event_id=f"e-{uuid.uuid4().hex[:8]}")
    req = wh.eventix_delivery("acme", SECRET, "order.paid", order)
    answers = []
    for _ in range(2):  # two receivers in a row: the in-memory replay check is gone
        with ConnectorContext(topics, "webhook", serve_metrics=False) as context:
            srv = HttpServer(create_app(context, webhook_settings), "127.0.0.1", 0).start()
            try:
                with httpx.Client(base_url=srv.url, timeout=30) as c:
                    answers.append(post(c, req).json())
            finally:
                srv.stop()
    assert [a["status"] for a in answers] == ["accepted", "accepted"]
    assert answers[0]["fact_ids"] == answers[1]["fact_ids"]
    got = by_fact_id(read_topic(topics, registry, TICKET_EVENTS), answers[0]["fact_ids"])
    assert len(got) == 4 and len({r.value["fact_id"] for r in got}) == 2  # consumers dedupe by id


def test_bad_input_is_dead_lettered_with_errors_headers_and_redacted_original_bytes(
        http: httpx.Client, topics: Settings, registry: Registry) -> None:
    person = wh.PEOPLE[1]
    order = wh.eventix_order(person=person, event_id=f"e-{uuid.uuid4().hex[:8]}")
    order["tickets"][0]["price"] = -100
    req = wh.eventix_delivery("acme", SECRET, "order.paid", order)
    resp = post(http, req)
    assert resp.status_code == 422 and resp.json()["field"] == "order.tickets[0].price"
    letters = [r for r in read_topic(topics, registry, dlq_of(TICKET_EVENTS), avro=False)
               if order["guid"].encode() in r.raw]
    assert len(letters) == 1
    letter = letters[0]
    h = letter.headers
    assert h["errors.field"] == "order.tickets[0].price"
    assert h["errors.stage"] == "mapping" and h["errors.source"] == "webhook"
    assert "greater than or equal to 0" in h["errors.exception.message"]
    assert h["errors.exception.class"].endswith("MappingError")
    assert h["errors.topic"] == topics.topic_prefix + TICKET_EVENTS
    assert h["errors.redacted"] == "true"
    body = json.loads(letter.raw)
    assert body["order"]["guid"] == order["guid"]  # the original delivery, readable
    assert body["order"]["tickets"][0]["price"] == -100
    assert body["order"]["customer"]["firstname"] == "[redacted]"
    for raw in person.personal_values():
        assert raw.encode() not in letter.raw


def test_no_personal_data_reaches_any_topic_the_receiver_writes(
        http: httpx.Client, api: FakeEventbriteApi, topics: Settings, registry: Registry) -> None:
    for person in wh.PEOPLE:  # good and bad deliveries of every vendor, each carrying a person
        order = wh.eventix_order(person=person, event_id=f"e-{uuid.uuid4().hex[:8]}")
        post(http, wh.eventix_delivery("acme", SECRET, "order.paid", order))
        bad = json.loads(json.dumps(order))
        bad["tickets"][0]["ticket_name"] = 12
        post(http, wh.eventix_delivery("acme", SECRET, "order.cancelled", bad))
        body = wh.eventix_delivery("acme", SECRET, "order.paid", order).body
        post(http, wh.eventix_delivery("acme", SECRET, "order.paid", order, body=body[:-40]))
        oid = uuid.uuid4().hex[:10]
        att = wh.eventbrite_attendee(attendee_id=oid, event_id="ev-p", order_id=oid, person=person,
                                  checked_in=True)
        post(http, wh.eventbrite_delivery("acme", SECRET, "order.placed", api.put_order(
            wh.eventbrite_order(order_id=oid, event_id="ev-p", attendees=[att], person=person))))
        post(http, wh.eventbrite_delivery("acme", SECRET, "attendee.checked_in", api.put_attendee(att)))
    post(http, wh.stager_delivery("acme", SECRET, body=b'{"event": {"id": "x", "contact": '
                               + json.dumps(wh.PEOPLE[0].email).encode()))
    scanned = 0
    for name in WRITTEN:
        for rec in read_topic(topics, registry, name, avro=False):
            blob = rec.raw + (rec.key or "").encode() + json.dumps(rec.headers).encode()
            for person in wh.PEOPLE:
                for raw in person.personal_values():
                    assert raw.encode() not in blob, f"{raw!r} found on {name}"
            scanned += 1
    assert scanned >= 20


def test_kafka_unavailable_is_503_with_retry_after_and_the_server_keeps_serving(
        topics: Settings, webhook_settings: WebhookSettings) -> None:
    dead = topics.model_copy(update={
        "kafka": topics.kafka.model_copy(update={"bootstrap_servers": "127.0.0.1:1"}),
        "connector": topics.connector.model_copy(update={"delivery_timeout_s": 2.0})})
    with ConnectorContext(dead, "webhook", serve_metrics=False) as context:
        srv = HttpServer(create_app(context, webhook_settings), "127.0.0.1", 0).start()
        try:
            with httpx.Client(base_url=srv.url, timeout=30) as c:
                req = wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order())
                resp = post(c, req)
                assert resp.status_code == 503
                assert int(resp.headers["Retry-After"]) >= 1
                assert "not acknowledged by Kafka" in resp.json()["error"]
                bad = post(c, wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order(),
                                               body=b"{not json"))
                assert bad.status_code == 503  # not even the dead letter is safe: retry
                assert c.get("/healthz/live").status_code == 200
                assert c.get("/healthz").status_code == 503
                assert post(c, req).status_code == 503  # still answering, not a duplicate
        finally:
            srv.stop()


def test_the_cli_serves_until_sigterm_and_stops_cleanly(topics: Settings) -> None:
    (port,) = free_ports(1)
    env = {**os.environ, "PYTHONPATH": str(REPO),
           **role_env(CONNECTOR),
           "CULTUURBUS_REGISTRY__URL": topics.registry.url,
           "CULTUURBUS_TOPIC_PREFIX": topics.topic_prefix,
           "CULTUURBUS_WEBHOOK__SECRETS": json.dumps({"eventix/acme": SECRET})}
    proc = subprocess.Popen([sys.executable, "-m", "connectors.ticketing.webhook.cli",
                             "--port", str(port)], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            while True:
                try:
                    if c.get("/healthz/live").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, "CLI did not start"
                time.sleep(0.1)
            resp = post(c, wh.eventix_delivery("acme", SECRET, "order.paid", wh.eventix_order()))
            assert resp.status_code == 200, resp.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        out = proc.stdout.read().decode() if proc.stdout else ""
        assert "webhook receiver stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


# -- measurement (slow: not a gate, prints records/s) -------------------------------
BENCH_SECRET = "throughput-secret-0000"
DELIVERIES = 2000
CONCURRENCY = 16


@pytest.mark.slow
def test_two_thousand_signed_deliveries_at_sixteen_concurrent_are_all_acknowledged(
        topics: Settings, registry: Registry) -> None:
    settings = WebhookSettings(secrets={"eventix/bench": BENCH_SECRET})
    run = uuid.uuid4().hex[:8]
    requests = [wh.eventix_delivery("bench", BENCH_SECRET, "order.paid",
                                 wh.eventix_order(event_id=f"{run}-{i % 50}", tickets=[("Regulier", 2750)]))
                for i in range(DELIVERIES)]
    with ConnectorContext(topics, "webhook", serve_metrics=False) as ctx:
        server = HttpServer(create_app(ctx, settings), "127.0.0.1", 0).start()
        try:
            async def load() -> list[int]:
                sem = asyncio.Semaphore(CONCURRENCY)
                limits = httpx.Limits(max_connections=CONCURRENCY)
                async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as c:
                    async def one(i: int) -> int:
                        async with sem:
                            r = requests[i]
                            resp = await c.post(r.path, content=r.body, headers=r.headers)
                            return resp.status_code
                    return await asyncio.gather(*(one(i) for i in range(DELIVERIES)))

            t0 = time.perf_counter()
            statuses = asyncio.run(load())
            seconds = time.perf_counter() - t0
        finally:
            server.stop()
    assert statuses.count(200) == DELIVERIES
    got = [r for r in read_topic(topics, registry, TICKET_EVENTS)
           if r.key and r.key.startswith(f"vendor:eventix:bench|{run}-")]
    assert len(got) == DELIVERIES
    print(f"\nwebhook receiver: {DELIVERIES} deliveries ({DELIVERIES} records) at {CONCURRENCY} "
          f"concurrent in {seconds:.2f}s = {DELIVERIES / seconds:.0f} records/s acknowledged by Kafka")

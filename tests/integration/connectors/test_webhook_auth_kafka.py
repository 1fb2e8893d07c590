"""Deliveries as each vendor really sends them, over loopback HTTP to the real receiver in
front of the real Kafka: what is authenticated is on the topics, what is not never is,
and a URL token never reaches a topic's headers, an answer or a log."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest

from bus.http import HttpServer
from bus.serde import Registry
from bus.settings import Settings
from bus.topics import SNAPSHOTS, TICKET_EVENTS, dlq_of
from connectors.fakes import webhooks as wh
from connectors.fakes.webhooks import FakeEventbriteApi, SignedRequest
from connectors.sdk.context import ConnectorContext
from connectors.ticketing.webhook import WebhookSettings, create_app
from tests.integration.connectors.test_webhook_kafka import by_fact_id, read_topic
from tests.support.webhook import SECRET

pytestmark = pytest.mark.integration

TOKEN = "tok-int-4b2f8d1e9c7a6053"


@pytest.fixture(scope="module")
def api() -> Iterator[FakeEventbriteApi]:
    with FakeEventbriteApi() as fake:
        yield fake


@pytest.fixture(scope="module")
def http(topics: Settings, api: FakeEventbriteApi) -> Iterator[httpx.Client]:
    settings = WebhookSettings(
        url_tokens={"eventbrite/acme": TOKEN, "stager/acme": TOKEN},
        openticket_nonces={"eventix/acme": wh.EVENTIX_NONCE},
        eventbrite_tokens={"acme": api.token}, eventbrite_api_hosts=(api.host,), fetch_attempts=1)
    with ConnectorContext(topics, "webhook", serve_metrics=False) as ctx:
        server = HttpServer(create_app(ctx, settings), "127.0.0.1", 0).start()
        try:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                yield client
        finally:
            server.stop()


def post(http: httpx.Client, req: SignedRequest) -> httpx.Response:
    return http.post(req.path, content=req.body, headers=req.headers)


def _order(api: FakeEventbriteApi) -> tuple[str, str]:
    """A fresh order on the fake API: its api_url and its one attendee id."""
    order_id, event_id = uuid.uuid4().hex[:10], uuid.uuid4().hex[:8]
    url = api.put_order(wh.eventbrite_order(order_id=order_id, event_id=event_id, attendees=[
        wh.eventbrite_attendee(attendee_id=f"{order_id}01", event_id=event_id, order_id=order_id)]))
    return url, f"{order_id}01"


def test_an_eventix_delivery_with_the_right_nonce_is_on_ticketing_events(
        http: httpx.Client, topics: Settings, registry: Registry) -> None:
    order = wh.eventix_order(event_id=f"e-{uuid.uuid4().hex[:8]}")
    resp = post(http, wh.eventix_delivery("acme", None, "order.paid", order))
    assert resp.status_code == 200, resp.text
    ids = resp.json()["fact_ids"]
    got = by_fact_id(read_topic(topics, registry, TICKET_EVENTS), ids)
    assert sorted(r.value["ticket_ids"][0] for r in got if r.value) == sorted(
        t["guid"] for t in order["tickets"])


def test_an_eventix_delivery_with_a_wrong_nonce_is_401_and_never_on_a_topic(
        http: httpx.Client, topics: Settings, registry: Registry) -> None:
    order = wh.eventix_order(event_id=f"e-{uuid.uuid4().hex[:8]}")
    resp = post(http, wh.eventix_delivery("acme", None, "order.paid", order, nonce="guessed-nonce"))
    assert resp.status_code == 401
    assert "OPENTICKET_NONCES" in resp.json()["error"]
    for topic in (TICKET_EVENTS, dlq_of(TICKET_EVENTS)):
        assert not [r for r in read_topic(topics, registry, topic, avro=False)
                    if order["guid"].encode() in r.raw]


def test_a_stager_push_with_its_url_token_is_one_snapshot(
        http: httpx.Client, topics: Settings, registry: Registry) -> None:
    event_id = f"st-{uuid.uuid4().hex[:8]}"
    resp = post(http, wh.stager_delivery("acme", None, event_id=event_id, url_token=TOKEN))
    assert resp.status_code == 200, resp.text
    (snap,) = by_fact_id(read_topic(topics, registry, SNAPSHOTS), resp.json()["fact_ids"])
    assert snap.key == f"vendor:stager:acme|{event_id}"


def test_an_eventbrite_delivery_is_published_only_from_the_fetched_order(
        http: httpx.Client, api: FakeEventbriteApi, topics: Settings, registry: Registry) -> None:
    url, attendee = _order(api)
    resp = post(http, wh.eventbrite_delivery("acme", None, "order.placed", url, url_token=TOKEN))
    assert resp.status_code == 200, resp.text
    (fact,) = by_fact_id(read_topic(topics, registry, TICKET_EVENTS), resp.json()["fact_ids"])
    assert fact.value is not None and fact.value["ticket_ids"] == [attendee]


@pytest.mark.parametrize("where", ["outside the allow-list", "fetch fails"])
def test_an_eventbrite_delivery_whose_object_cannot_be_fetched_is_never_published(
        http: httpx.Client, api: FakeEventbriteApi, topics: Settings, registry: Registry,
        where: str) -> None:
    url, attendee = _order(api)
    if where == "outside the allow-list":
        url = url.replace("127.0.0.1", "localhost")  # same server, a host not allowed
        expected = 422
    else:
        api.fail(None, 503)
        expected = 503
    try:
        resp = post(http, wh.eventbrite_delivery("acme", None, "order.placed", url, url_token=TOKEN))
    finally:
        api.fail(0)
    assert resp.status_code == expected, resp.text
    assert not [r for r in read_topic(topics, registry, TICKET_EVENTS, avro=False)
                if attendee.encode() in r.raw]


def test_the_url_token_is_in_no_answer_log_or_dead_letter_header(
        http: httpx.Client, api: FakeEventbriteApi, topics: Settings, registry: Registry,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url, _ = _order(api)
    marker = uuid.uuid4().hex
    bad = wh.eventbrite_delivery("acme", None, "order.exploded", f"{url}?m={marker}",
                              url_token=TOKEN)
    answers = [post(http, bad), post(http, wh.stager_delivery("acme", None, url_token=TOKEN[::-1]))]
    assert [a.status_code for a in answers] == [422, 401]
    (letter,) = [r for r in read_topic(topics, registry, dlq_of(TICKET_EVENTS), avro=False)
                 if marker.encode() in r.raw]
    assert letter.headers["errors.field"] == "config.action"
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records
                      if not r.name.startswith(("httpx", "httpcore")))  # the test's client
    metrics = http.get("/metrics").text
    for secret in (TOKEN, TOKEN[::-1]):
        for text in [a.text for a in answers] + [logged, metrics, *letter.headers.values()]:
            assert secret not in text
        assert secret.encode() not in letter.raw


def test_kafka_down_is_429_to_openticket_which_retries_only_4xx_and_503_to_a_signing_relay(
        topics: Settings, registry: Registry) -> None:
    dead = topics.model_copy(update={
        "kafka": topics.kafka.model_copy(update={"bootstrap_servers": "127.0.0.1:1"}),
        "connector": topics.connector.model_copy(update={"delivery_timeout_s": 2.0})})
    settings = WebhookSettings(openticket_nonces={"eventix/acme": wh.EVENTIX_NONCE},
                               secrets={"eventix/relayed": SECRET})
    with ConnectorContext(dead, "webhook", serve_metrics=False) as ctx:
        server = HttpServer(create_app(ctx, settings), "127.0.0.1", 0).start()
        try:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                straight = post(client, wh.eventix_delivery("acme", None, "order.paid", wh.eventix_order()))
                relayed = post(client, wh.eventix_delivery("relayed", SECRET, "order.paid",
                                                           wh.eventix_order()))
        finally:
            server.stop()
    assert straight.status_code == 429, straight.text  # a 503 OpenTicket would never send again
    assert relayed.status_code == 503, relayed.text  # a relay holds and redelivers on 5xx
    for resp in (straight, relayed):
        assert int(resp.headers["Retry-After"]) >= 1
        assert resp.json()["status"] == "unavailable" and "Kafka" in resp.json()["error"]

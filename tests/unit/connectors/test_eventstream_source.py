"""The eventstream poller against the fake Ticketmatic: paging, failures, the cursor."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from bus.errors import ConfigError, DeliveryError
from connectors.fakes.ticketmatic import FakeTicketmatic, generate_feed, stream_id
from connectors.sdk.errors import Retry, SourceUnavailable
from connectors.sdk.metrics import ConnectorMetrics
from connectors.sdk.privacy import Pseudonymiser
from connectors.sdk.records import DeadLetter, SourceRecord
from connectors.sdk.runner import SourceRunner
from connectors.ticketing.eventstream import EventstreamClient, EventstreamSource, MalformedPage
from connectors.ticketing.eventstream.mapping import MappingEnv
from connectors.ticketing.eventstream.metrics import EventstreamMetrics


class FakePublisher:
    """Records what would have reached Kafka."""

    def __init__(self) -> None:
        self.metrics = ConnectorMetrics(CollectorRegistry())
        self.connector = "eventstream"
        self.items: list[SourceRecord | DeadLetter] = []

    def publish(self, items: Sequence[SourceRecord | DeadLetter], timeout: float | None = None) -> None:
        self.items.extend(items)


class FakePositions:
    def __init__(self, fail_saves: int = 0) -> None:
        self.saved: dict[str, dict[str, Any]] = {}
        self.fail_saves = fail_saves

    def get(self, part: str) -> dict[str, Any] | None:
        return self.saved.get(part)

    def save(self, part: str, position: dict[str, Any], timeout: float | None = None) -> None:
        if self.fail_saves:
            self.fail_saves -= 1
            raise DeliveryError("position not acknowledged (test)")
        self.saved[part] = position


@pytest.fixture
def fake() -> Iterator[FakeTicketmatic]:
    with FakeTicketmatic(generate_feed(25), page_size=10) as f:
        yield f


def _source(fake: FakeTicketmatic, **client: Any) -> EventstreamSource:
    env = MappingEnv("acme", Pseudonymiser(SecretStr("unit-test-secret-0123456789")))
    return EventstreamSource(EventstreamClient(fake.base_url, "acme", **client), env,
                             metrics=EventstreamMetrics(CollectorRegistry()))


def _fact_ids(items: Sequence[SourceRecord | DeadLetter]) -> list[str]:
    return [i.value.fact_id for i in items if isinstance(i, SourceRecord)]  # type: ignore[attr-defined]


def _end_of(fake: FakeTicketmatic) -> str:
    cursor, page = "0", fake.page("0")
    while page["moreresults"]:
        cursor = page["nextid"]
        page = fake.page(cursor)
    return str(page["nextid"])


def test_polls_page_by_page_and_the_position_is_the_next_id(fake: FakeTicketmatic) -> None:
    source = _source(fake)
    first = source.poll(None)
    assert len(first.items) == 10 and first.more
    assert first.position == {"id": fake.page("0")["nextid"]}
    second = source.poll(first.position)
    third = source.poll(second.position)
    assert len(second.items) == 10 and len(third.items) == 5 and not third.more
    assert len(set(_fact_ids(first.items + second.items + third.items))) == 25
    assert fake.requests == ["0", first.position["id"], second.position["id"]]


def test_a_caught_up_stream_returns_nothing_and_keeps_the_cursor(fake: FakeTicketmatic) -> None:
    source = _source(fake)
    end = fake.page(stream_id(30))["nextid"]
    result = source.poll({"id": end})
    assert result.items == [] and not result.more and result.position == {"id": end}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_source_unavailable_and_publishes_nothing(fake: FakeTicketmatic,
                                                                   status: int) -> None:
    fake.fail_next(1, status)
    with pytest.raises(SourceUnavailable, match=str(status)):
        _source(fake).poll(None)


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"moreresults": false, "results": {',
                                  b'{"moreresults": false, "nextid": "5-0", "results": {"a": 1}}',
                                  b'{"moreresults": false, "results": []}', b"[1, 2]"])
def test_a_malformed_page_is_retried_not_skipped(fake: FakeTicketmatic, body: bytes) -> None:
    fake.malformed_next(1, body)
    source = _source(fake)
    with pytest.raises(MalformedPage):
        source.poll(None)
    assert len(source.poll(None).items) == 10  # the same cursor, served fine the next time
    assert fake.requests == ["0", "0"]


def test_a_request_that_times_out_is_source_unavailable(fake: FakeTicketmatic) -> None:
    fake.stall_next(1, 1.0)
    with pytest.raises(SourceUnavailable, match="in time"):
        _source(fake, timeout_s=0.2).poll(None)


def test_rate_limiting_waits_as_the_vendor_asks() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "7"})

    client = EventstreamClient("http://tm.test/api/1", "acme",
                               client=httpx.Client(transport=httpx.MockTransport(handler)))
    with pytest.raises(Retry) as err:
        client.page("0")
    assert err.value.retry_after == 7.0


def test_wrong_credentials_are_a_config_error(fake: FakeTicketmatic) -> None:
    with FakeTicketmatic([], access_key="key", secret_key="secret") as locked:
        with pytest.raises(ConfigError, match="credentials"):
            _source(locked, access_key="key", secret_key="wrong").poll(None)
        assert _source(locked, access_key="key", secret_key="secret").poll(None).items == []


def test_a_nextid_that_does_not_advance_is_not_taken_as_progress(fake: FakeTicketmatic) -> None:
    body = b'{"moreresults": true, "nextid": "0", "results": [{"id": "1-0"}]}'
    fake.malformed_next(1, body)
    with pytest.raises(SourceUnavailable, match="did not advance"):
        _source(fake).poll(None)


def test_an_unmappable_item_is_dead_lettered_and_the_page_goes_on(fake: FakeTicketmatic) -> None:
    bad = {"id": stream_id(2), "ts": "2025-01-01T10:00:00+0000", "type": "order:confirmed",
           "data": {"orderid": 1, "tickets": [{"id": 9, "eventid": 1, "price": "-5"}]}}
    feed = generate_feed(10)
    feed[2] = bad
    with FakeTicketmatic(feed, page_size=10) as f:
        result = _source(f).poll(None)
    letters = [i for i in result.items if isinstance(i, DeadLetter)]
    assert len(letters) == 1 and len(_fact_ids(result.items)) == 9
    assert letters[0].error.field == "data.tickets[0].price"  # type: ignore[attr-defined]
    assert stream_id(2) in (letters[0].where or "")
    assert b'"orderid": 1' in letters[0].raw


def test_the_runner_rides_out_three_failures_and_publishes_every_item_once(
        fake: FakeTicketmatic) -> None:
    fake.fail_next(3, 500)
    publisher, positions = FakePublisher(), FakePositions()
    runner = SourceRunner(_source(fake), publisher, positions,  # type: ignore[arg-type]
                          poll_interval_s=0.01, backoff_max_s=0.02)
    runner.run(until_caught_up=True)
    ids = _fact_ids(publisher.items)
    assert len(ids) == len(set(ids)) == 25
    assert positions.saved["ticketmatic:acme"] == {"id": _end_of(fake)}
    assert fake.requests[:4] == ["0", "0", "0", "0"]


def test_a_lost_cursor_save_replays_the_page_with_the_same_fact_ids(fake: FakeTicketmatic) -> None:
    publisher, positions = FakePublisher(), FakePositions(fail_saves=1)
    runner = SourceRunner(_source(fake), publisher, positions,  # type: ignore[arg-type]
                          poll_interval_s=0.01, backoff_max_s=0.02)
    runner.run(until_caught_up=True)
    ids = _fact_ids(publisher.items)
    assert len(ids) == 35  # the first page twice
    assert len(set(ids)) == 25  # ...with the same ids: downstream counts it once
    assert ids[:10] == ids[10:20]

"""The UiTdatabank connector end to end: fake Search API -> real Kafka."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bus.serde import Registry
from bus.settings import Settings
from bus.topics import PERFORMANCES, dlq_of
from connectors.calendar.common import Backoff
from connectors.calendar.uitdatabank.source import UitdatabankSource
from connectors.fakes.calendars import ReadBack, read_back
from connectors.fakes.uitdatabank import FakeUitdatabank, uit_event, uit_uuid
from connectors.sdk.context import ConnectorContext
from connectors.sdk.runner import SourceRunner
from tests.integration.connectors.readback import published_performances
from tests.support.calendar import daily_starts

pytestmark = pytest.mark.integration

STARTS = daily_starts(30)


@pytest.fixture
def fake() -> Iterator[FakeUitdatabank]:
    with FakeUitdatabank(client_id="cultuurbus-test") as server:
        yield server



def _runner(context: ConnectorContext, fake: FakeUitdatabank, account: str) -> SourceRunner:
    source = UitdatabankSource(fake.url, client_id="cultuurbus-test", account=account,
                               page_size=50, settle_s=0, backoff=Backoff(0.05, 0.2))
    return SourceRunner(source, context.publisher, context.positions, poll_interval_s=0.1,
                        backoff_max_s=0.5)



def test_uit_events_arrive_on_calendar_performances_with_their_fields(
        topics: Settings, registry: Registry, fake: FakeUitdatabank,
        context: ConnectorContext) -> None:
    account = f"uit-{uuid.uuid4().hex[:6]}"
    fake.add(uit_event(101, starts=STARTS, modified=fake.tick(), title="Kommil Foo - OOGST",
                       capacities=[500, 500, 320], labels=["dip:NL-25-0101-1|2@1"]))
    fake.add(uit_event(102, starts=STARTS[:1], modified=fake.tick(),
                       sub_statuses=["Unavailable"]))
    _runner(context, fake, account).run(until_caught_up=True)

    records = {r["performance_key"]: r for r in published_performances(topics, registry, account)}
    event = uit_uuid("event", 101)
    assert set(records) == {f"uit|{event}#0", f"uit|{event}#1", f"uit|{event}#2",
                            f"uit|{uit_uuid('event', 102)}#0"}
    second = records[f"uit|{event}#1"]
    assert second["title"] == "Kommil Foo - OOGST"
    assert second["capacity"] == 500
    assert second["venue"]["name"] == "KVS Bol"
    assert second["venue"]["postcode"] == "1000"
    assert second["venue"]["country"] == "BE"
    assert second["start"] == STARTS[1]
    assert second["status"] == "SCHEDULED"
    assert [(i["namespace"], i["value"]) for i in second["identifiers"]] == [
        ("uit", f"{event}#1"), ("uit", f"{event}@{STARTS[1]:%Y-%m-%dT%H:%MZ}"),
        ("dip", "NL-25-0101-1|00002")]
    assert records[f"uit|{uit_uuid('event', 102)}#0"]["status"] == "CANCELLED"


def test_a_second_poll_publishes_nothing_and_a_modified_event_comes_again_newer(
        topics: Settings, registry: Registry, fake: FakeUitdatabank,
        context: ConnectorContext) -> None:
    account = f"uit-{uuid.uuid4().hex[:6]}"
    key = fake.add(uit_event(201, starts=STARTS, modified=fake.tick()))
    fake.add(uit_event(202, starts=STARTS, modified=fake.tick()))
    _runner(context, fake, account).run(until_caught_up=True)
    first = published_performances(topics, registry, account)
    assert len(first) == 6

    again = _runner(context, fake, account)
    again.run(until_caught_up=True)
    assert again.published == 0
    assert len(published_performances(topics, registry, account)) == 6

    stamp = fake.modify(key, lambda e: e["subEvent"][0]["bookingAvailability"].update(
        capacity=450))
    after = _runner(context, fake, account)
    after.run(until_caught_up=True)
    assert after.published == 3
    records = published_performances(topics, registry, account)
    newest = [r for r in records if r["event_time"] == stamp]
    assert len(newest) == 3
    assert max(r["event_time"] for r in first) < stamp
    assert {r["capacity"] for r in newest if r["performance_key"].endswith("#0")} == {450}
    position = context.positions.get(after.source.source_partition)
    assert position == {"modifiedFrom": stamp.isoformat(),
                        "seen_at_that_time": [uit_uuid("event", 201)]}


def test_a_server_failing_twice_then_recovering_loses_nothing(
        topics: Settings, registry: Registry, fake: FakeUitdatabank,
        context: ConnectorContext) -> None:
    account = f"uit-{uuid.uuid4().hex[:6]}"
    for n in range(301, 311):
        fake.add(uit_event(n, starts=STARTS, modified=fake.tick()))
    fake.fail_next(2, status=503)
    runner = _runner(context, fake, account)
    runner.run(until_caught_up=True)
    assert sum(1 for r in fake.requests) >= 3
    records = published_performances(topics, registry, account)
    assert len({r["performance_key"] for r in records}) == 30


def test_a_malformed_member_goes_to_the_dlq_with_error_headers(
        topics: Settings, registry: Registry, fake: FakeUitdatabank,
        context: ConnectorContext) -> None:
    account = f"uit-{uuid.uuid4().hex[:6]}"
    fake.add(uit_event(401, starts=STARTS, modified=fake.tick()))
    broken = uit_event(402, starts=STARTS, modified=fake.tick())
    broken["subEvent"][0]["bookingAvailability"]["capacity"] = "veel"
    fake.add(broken)
    _runner(context, fake, account).run(until_caught_up=True)

    assert len(published_performances(topics, registry, account)) == 5
    broken_id = uit_uuid("event", 402)
    dead: list[ReadBack] = [r for r in read_back(topics, dlq_of(PERFORMANCES))
                            if r.headers.get("errors.source") == context.name]
    (letter,) = dead
    assert letter.key == f"uit|{broken_id}#0"
    assert broken_id in letter.value.decode()
    assert letter.headers["errors.stage"] == "mapping"
    assert letter.headers["errors.field"] == "subEvent[0].bookingAvailability.capacity"
    assert "non-negative integer" in letter.headers["errors.exception.message"]
    assert letter.headers["errors.topic"] == topics.topic_prefix + PERFORMANCES
    # the bookingInfo e-mail address and phone number never reach Kafka
    assert "tickets@example.be" not in letter.value.decode()
    assert letter.headers["errors.redacted"] == "true"

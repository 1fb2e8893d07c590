"""Polling the (fake) UiTdatabank Search API: cursor, paging, failures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from connectors.calendar.common import Backoff, CalendarMetrics
from connectors.calendar.uitdatabank.source import UitdatabankSource
from connectors.fakes.calendars import FakeCalendarSite
from connectors.fakes.uitdatabank import FakeUitdatabank, uit_event, uit_uuid
from connectors.sdk.errors import Retry
from connectors.sdk.records import DeadLetter, PollResult, SourceRecord
from tests.support.calendar import daily_starts

STARTS = daily_starts(20)


@pytest.fixture
def fake() -> Iterator[FakeUitdatabank]:
    with FakeUitdatabank(api_key="secret-key") as server:
        yield server


def _source(fake: FakeUitdatabank, **kw: Any) -> UitdatabankSource:
    kw.setdefault("page_size", 2)
    return UitdatabankSource(fake.url, api_key="secret-key", settle_s=0,
                             backoff=Backoff(0.01, 0.05), **kw)


def _drain(source: UitdatabankSource, position: dict[str, Any] | None,
           limit: int = 50) -> tuple[list[SourceRecord | DeadLetter], dict[str, Any] | None]:
    items: list[SourceRecord | DeadLetter] = []
    for _ in range(limit):
        result: PollResult = source.poll(position)
        items.extend(result.items)
        position = result.position
        if not result.more:
            return items, position
    raise AssertionError("the source never caught up")


def _keys(items: list[SourceRecord | DeadLetter]) -> list[str]:
    return [i.key for i in items if isinstance(i, SourceRecord)]


def test_events_modified_in_the_same_second_across_pages_are_neither_skipped_nor_repeated(
        fake: FakeUitdatabank) -> None:
    same = fake.tick()
    for n in range(5):
        fake.add(uit_event(n, starts=STARTS[:1], modified=same))
    items, position = _drain(_source(fake), None)
    assert sorted(_keys(items)) == sorted(f"uit|{uit_uuid('event', n)}#0" for n in range(5))
    assert position is not None
    assert position["modifiedFrom"] == same.isoformat()
    assert len(position["seen_at_that_time"]) == 5


def test_a_caught_up_poll_publishes_nothing(fake: FakeUitdatabank) -> None:
    for n in range(3):
        fake.add(uit_event(n, starts=STARTS, modified=fake.tick()))
    source = _source(fake)
    items, position = _drain(source, None)
    assert len(_keys(items)) == 9
    again, same_position = _drain(source, position)
    assert again == [] and same_position == position


def test_a_modified_event_shows_up_again_with_a_newer_event_time(fake: FakeUitdatabank) -> None:
    key = fake.add(uit_event(7, starts=STARTS, modified=fake.tick()))
    fake.add(uit_event(8, starts=STARTS, modified=fake.tick()))
    source = _source(fake)
    first, position = _drain(source, None)
    stamp = fake.modify(key, lambda e: e["subEvent"][2]["status"].update(type="Unavailable"))
    again, _ = _drain(source, position)
    assert len(again) == 3
    assert {i.value.event_time for i in again if isinstance(i, SourceRecord)} == {stamp}
    assert [i.value.status.value for i in again if isinstance(i, SourceRecord)] == [
        "SCHEDULED", "SCHEDULED", "CANCELLED"]


def test_the_request_undoes_default_filters_that_would_hide_changes(fake: FakeUitdatabank) -> None:
    fake.add(uit_event(1, starts=STARTS, modified=fake.tick(), workflow_status="DELETED"))
    items, _ = _drain(_source(fake, page_size=10), None)
    assert len(_keys(items)) == 3  # the default filter would hide a deleted event
    req = fake.requests[0]
    assert req.arg("sort[modified]") == "asc" and req.arg("embed") == "true"
    assert req.arg("modifiedFrom") == "1970-01-01T00:00:00+00:00"
    assert "DELETED" in (req.arg("workflowStatus") or "")
    assert req.arg("availableFrom") == "*"
    assert req.headers["x-api-key"] == "secret-key"


def test_a_server_error_raises_retry_and_the_next_poll_loses_nothing(fake: FakeUitdatabank) -> None:
    fake.add(uit_event(1, starts=STARTS, modified=fake.tick()))
    source = _source(fake)
    fake.fail_next(2, status=503)
    for _ in range(2):
        with pytest.raises(Retry) as info:
            source.poll(None)
        assert info.value.retry_after > 0
        assert "503" in str(info.value)
    items, _ = _drain(source, None)
    assert len(_keys(items)) == 3


def test_a_wrong_api_key_is_retried_with_a_hint(fake: FakeUitdatabank) -> None:
    source = UitdatabankSource(fake.url, api_key="wrong", settle_s=0, backoff=Backoff(0.01, 0.05))
    with pytest.raises(Retry, match="API key"):
        source.poll(None)


def test_a_malformed_member_is_dead_lettered_and_the_poll_goes_on(fake: FakeUitdatabank) -> None:
    fake.add(uit_event(1, starts=STARTS, modified=fake.tick()))
    broken = uit_event(2, starts=STARTS, modified=fake.tick())
    del broken["name"]
    fake.add(broken)
    fake.add(uit_event(3, starts=STARTS, modified=fake.tick()))
    items, position = _drain(_source(fake), None)
    assert len(_keys(items)) == 6
    (dead,) = [i for i in items if isinstance(i, DeadLetter)]
    assert dead.topic == "calendar.performances"
    assert uit_uuid("event", 2) in dead.raw.decode()
    assert "name" in str(dead.error)
    assert position is not None
    again, _ = _drain(_source(fake), position)
    assert again == []  # the cursor moved past the bad member: not dead-lettered twice


def test_periodic_events_are_counted_as_skipped(fake: FakeUitdatabank) -> None:
    registry = CollectorRegistry()
    metrics = CalendarMetrics(registry)
    fake.add(uit_event(1, starts=STARTS, modified=fake.tick(), calendar_type="periodic"))
    items, position = _drain(_source(fake, metrics=metrics), None)
    assert items == []
    assert position is not None and position["seen_at_that_time"] == [uit_uuid("event", 1)]
    assert registry.get_sample_value("cultuurbus_connector_records_skipped_total",
                                     {"connector": "uitdatabank", "reason": "periodic"}) == 1


def test_a_page_that_is_not_a_paged_collection_is_retried() -> None:
    with FakeCalendarSite() as site:  # a proxy answering 200 with an HTML error page
        site.put("/events", "<html><body>Maintenance</body></html>")
        source = UitdatabankSource(site.url, api_key="k", settle_s=0, backoff=Backoff(0.01, 0.05))
        with pytest.raises(Retry, match="PagedCollection"):
            source.poll(None)

"""Polling a (fake) web page for schema.org Events: only changes go out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.calendar.common import Backoff
from connectors.calendar.schemaorg.source import SchemaOrgSource
from connectors.fakes.calendars import FakeCalendarSite, schemaorg_page, theater_event
from connectors.sdk.errors import Retry
from connectors.sdk.records import DeadLetter, SourceRecord


@pytest.fixture
def site() -> Iterator[FakeCalendarSite]:
    with FakeCalendarSite() as server:
        yield server


def _events(capacity: int = 926) -> list[dict[str, object]]:
    return [theater_event("Hamlet", "2030-05-02T20:00:00+02:00", event_id="#hamlet"),
            theater_event("Ubu", "2030-05-03T20:00:00+02:00", event_id="#ubu", capacity=capacity)]


def test_an_unchanged_page_publishes_nothing_and_is_asked_for_with_its_etag(
        site: FakeCalendarSite) -> None:
    url = site.put("/agenda", schemaorg_page(_events()))
    source = SchemaOrgSource(url, backoff=Backoff(0.01, 0.05))
    first = source.poll(None)
    assert len(first.items) == 2
    second = source.poll(first.position)
    assert second.items == []
    assert site.requests[-1].headers.get("if-none-match") == first.position["etag"]


def test_only_the_event_that_changed_on_a_changed_page_goes_out_again(
        site: FakeCalendarSite) -> None:
    url = site.put("/agenda", schemaorg_page(_events()))
    source = SchemaOrgSource(url, backoff=Backoff(0.01, 0.05))
    first = source.poll(None)
    site.put("/agenda", schemaorg_page(_events(capacity=400)))
    second = source.poll(first.position)
    assert [(i.value.title, i.value.capacity) for i in second.items
            if isinstance(i, SourceRecord)] == [("Ubu", 400)]


def test_a_bad_block_is_dead_lettered_once(site: FakeCalendarSite) -> None:
    url = site.put("/agenda", schemaorg_page(_events(), extra_blocks=['{"broken": ']))
    source = SchemaOrgSource(url, backoff=Backoff(0.01, 0.05))
    first = source.poll(None)
    (dead,) = [i for i in first.items if isinstance(i, DeadLetter)]
    assert dead.raw == b'{"broken":'
    site.put("/agenda", schemaorg_page(_events(capacity=10), extra_blocks=['{"broken": ']))
    second = source.poll(first.position)
    assert not any(isinstance(i, DeadLetter) for i in second.items)


def test_a_page_that_fails_raises_retry_with_backoff(site: FakeCalendarSite) -> None:
    source = SchemaOrgSource(site.url + "/missing", backoff=Backoff(0.01, 0.05))
    with pytest.raises(Retry, match="404"):
        source.poll(None)


def test_a_large_page_keeps_hashed_references_and_still_publishes_only_changes(
        site: FakeCalendarSite, monkeypatch: pytest.MonkeyPatch) -> None:
    import connectors.calendar.common as common

    monkeypatch.setattr(common, "COMPACT_POSITION_ABOVE", 1)
    url = site.put("/agenda", schemaorg_page(_events()))
    source = SchemaOrgSource(url, backoff=Backoff(0.01, 0.05))
    first = source.poll(None)
    assert all(ref.startswith("#") and len(ref) == 17 for ref in first.position["items"])
    site.put("/agenda", schemaorg_page(_events(capacity=1)))
    assert [i.value.title for i in source.poll(first.position).items
            if isinstance(i, SourceRecord)] == ["Ubu"]

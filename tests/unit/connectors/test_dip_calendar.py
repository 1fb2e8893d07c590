"""DIP productions/performances -> Performance facts, and the calendar poller's cursor."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bus.topics import PERFORMANCES
from connectors.fakes.dip import FakeDip, dip_performance, dip_production, dip_theater
from connectors.sdk.errors import MappingError, SourceUnavailable
from connectors.sdk.records import DeadLetter, SourceRecord
from connectors.ticketing.dip import DipCalendarSource, map_performance
from schemas.models import Identifier, Performance, PerformanceStatus

U = datetime(2025, 1, 10, 9, tzinfo=UTC)
PROD = dip_production("NL-24-0712-3", "De Verleiders: Sluipend Gif", U, genre=("13", "Cabaret"))


def test_a_performance_maps_with_its_dip_identifier_venue_and_capacity() -> None:
    perf = dip_performance(2, "2025-03-01T20:15:00+01:00", capacity=[("1", 500), ("2", 140)],
                           theater=dip_theater("T-0042", "Stadsschouwburg Utrecht", "3511 EN",
                                               "Utrecht", ("26", "Utrecht")))
    fact = map_performance(PROD, perf, account="dip.test")
    assert fact.performance_key == "dip|NL-24-0712-3|00002"
    assert fact.identifiers == [Identifier.dip("NL-24-0712-3", 2)]
    assert fact.production_id == "NL-24-0712-3"
    assert fact.title == "De Verleiders: Sluipend Gif"
    assert fact.genre == "Cabaret"
    assert fact.start == datetime(2025, 3, 1, 19, 15, tzinfo=UTC)
    assert fact.capacity == 640
    assert fact.status == PerformanceStatus.SCHEDULED
    assert (fact.venue.id, fact.venue.name, fact.venue.city, fact.venue.postcode,
            fact.venue.region) == ("dip:theater:T-0042", "Stadsschouwburg Utrecht", "Utrecht",
                                   "3511 EN", "Utrecht")
    assert fact.event_time == U


def test_a_cancellation_is_a_cancelled_performance() -> None:
    fact = map_performance(PROD, dip_performance(1, "2025-03-01T20:15:00", status="cancellation"),
                           account="a")
    assert fact.status == PerformanceStatus.CANCELLED
    assert fact.start == datetime(2025, 3, 1, 19, 15, tzinfo=UTC)  # naive = Dutch local time


def test_the_same_content_gives_the_same_fact_id_and_a_change_a_new_one() -> None:
    perf = dip_performance(1, "2025-03-01T20:15:00+01:00")
    a = map_performance(PROD, perf, account="a").fact_id
    assert map_performance(PROD, dict(perf), account="a").fact_id == a
    assert map_performance(PROD, {**perf, "status": "cancellation"}, account="a").fact_id != a


@pytest.mark.parametrize(("perf", "field"), [
    (dip_performance(1, "2025-03-01T20:15:00", status="maybe"), "performance.status"),
    (dip_performance(1, "next friday"), "performance.date"),
    ({**dip_performance(1, "2025-03-01T20:15:00"), "number": "x"}, "performance.number"),
    ({**dip_performance(1, "2025-03-01T20:15:00"), "theater": None}, "performance.theater"),
    ({**dip_performance(1, "2025-03-01T20:15:00"), "capacity": -5}, "performance.capacity"),
])
def test_bad_performances_raise_naming_the_field(perf: dict, field: str) -> None:
    with pytest.raises(MappingError) as err:
        map_performance(PROD, perf, account="a")
    assert err.value.field == field


@pytest.fixture
def fake() -> Iterator[FakeDip]:
    prods = [(dip_production(f"NL-24-{1000 + i}-1", f"Voorstelling {i}", U + timedelta(minutes=i)),
              [dip_performance(n, f"2025-03-0{n}T20:15:00+01:00") for n in (1, 2)])
             for i in range(5)]
    with FakeDip(prods) as f:
        yield f


def _facts(items: list) -> list[Performance]:
    return [i.value for i in items if isinstance(i, SourceRecord)]


def test_the_poller_pages_through_productions_and_publishes_every_performance(fake: FakeDip) -> None:
    source = DipCalendarSource(fake.url, page_size=2)
    keys, position, more = [], None, True
    while more:
        result = source.poll(position)
        keys += [f.performance_key for f in _facts(result.items)]
        position, more = result.position, result.more
    assert len(keys) == len(set(keys)) == 10
    assert all(r.topic == PERFORMANCES for r in source.poll(None).items)
    again = source.poll(position)
    assert again.items == [] and not again.more  # nothing new: nothing republished


def test_an_edited_production_is_read_again(fake: FakeDip) -> None:
    source = DipCalendarSource(fake.url, page_size=50)
    position = source.poll(None).position
    fake.put([(dip_production("NL-24-1001-1", "Voorstelling 1 (nieuwe titel)", U + timedelta(hours=1)),
               [dip_performance(1, "2025-03-01T20:15:00+01:00", status="cancellation")])])
    facts = _facts(source.poll(position).items)
    assert [(f.title, f.status) for f in facts] == [("Voorstelling 1 (nieuwe titel)",
                                                     PerformanceStatus.CANCELLED)]


def test_productions_sharing_the_cursor_instant_are_neither_skipped_nor_repeated() -> None:
    same = [(dip_production(f"NL-24-{2000 + i}-1", f"P{i}", U), [dip_performance(1, "2025-03-01")])
            for i in range(3)]
    with FakeDip(same) as fake:
        source = DipCalendarSource(fake.url, page_size=2)
        first = source.poll(None)
        second = source.poll(first.position)
        third = source.poll(second.position)
    titles = [f.title for f in _facts(first.items + second.items + third.items)]
    assert sorted(titles) == ["P0", "P1", "P2"]


def test_a_bad_performance_is_dead_lettered_and_its_siblings_published(fake: FakeDip) -> None:
    fake.put([(dip_production("NL-24-3000-1", "Half goed", U + timedelta(days=1)),
               [dip_performance(1, "2025-03-01T20:15:00+01:00"),
                dip_performance(2, "2025-03-02T20:15:00+01:00", status="perhaps")])])
    result = DipCalendarSource(fake.url).poll({"modifiedSince": (U + timedelta(hours=5)).isoformat()})
    letters = [i for i in result.items if isinstance(i, DeadLetter)]
    assert [f.performance_key for f in _facts(result.items)] == ["dip|NL-24-3000-1|00001"]
    assert len(letters) == 1 and letters[0].error.field == "performance.status"  # type: ignore[attr-defined]
    assert b"perhaps" in letters[0].raw


def test_a_failing_dip_raises_before_anything_is_published(fake: FakeDip) -> None:
    fake.fail_next(1)
    with pytest.raises(SourceUnavailable):
        DipCalendarSource(fake.url).poll(None)

"""UiTdatabank event JSON-LD -> performances."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.calendar.uitdatabank.mapping import map_event
from connectors.fakes.uitdatabank import uit_event, uit_uuid
from connectors.sdk.errors import MappingError
from schemas.models import Identifier, PerformanceStatus

MODIFIED = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
STARTS = [datetime(2025, 4, d, 18, 0, tzinfo=UTC) for d in (10, 11, 12)]


def _event(**kw):  # type: ignore[no-untyped-def]
    kw.setdefault("starts", STARTS)
    kw.setdefault("modified", MODIFIED)
    return uit_event(kw.pop("n", 1), **kw)


def test_multiple_event_gives_one_performance_per_subevent_with_its_capacity() -> None:
    event = _event(title="De Meeuw", capacities=[850, 850, 420], remaining=[12, 300, 0])
    mapped = map_event(event, account="search.uitdatabank.be")

    assert not mapped.failures and mapped.skipped is None
    uuid = uit_uuid("event", 1)
    assert [p.performance_key for p in mapped.performances] == [
        f"uit|{uuid}#0", f"uit|{uuid}#1", f"uit|{uuid}#2"]
    assert [p.capacity for p in mapped.performances] == [850, 850, 420]
    assert [p.start for p in mapped.performances] == STARTS
    first = mapped.performances[0]
    assert first.identifiers == [Identifier.uit(uuid, 0), Identifier.uit_at(uuid, STARTS[0])]
    assert first.title == "De Meeuw"  # mainLanguage nl, not the French name
    assert first.genre == "Concert"  # the eventtype term, not the theme
    assert (first.venue.id, first.venue.name, first.venue.postcode, first.venue.city,
            first.venue.country) == (uit_uuid("place", "Handelsbeurs Concertzaal"),
                                     "Handelsbeurs Concertzaal", "9000", "Gent", "BE")
    assert first.production_id == uit_uuid("production", "De Meeuw")
    assert first.url == f"https://tickets.example.be/{uuid}"
    assert first.on_sale_from == MODIFIED
    assert first.event_time == MODIFIED
    assert first.end == STARTS[0] + timedelta(hours=2)
    assert first.source_system == "uitdatabank"
    assert first.source_account == "search.uitdatabank.be"
    assert first.status is PerformanceStatus.SCHEDULED


def test_a_cancelled_subevent_cancels_only_that_performance() -> None:
    event = _event(sub_statuses=["Available", "Unavailable", "Available"])
    statuses = [p.status for p in map_event(event, account="a").performances]
    assert statuses == [PerformanceStatus.SCHEDULED, PerformanceStatus.CANCELLED,
                        PerformanceStatus.SCHEDULED]


def test_a_postponed_event_postpones_every_performance() -> None:
    event = _event(status="TemporarilyUnavailable")
    assert {p.status for p in map_event(event, account="a").performances} == {
        PerformanceStatus.POSTPONED}


def test_an_online_event_reads_moved_online_unless_it_is_cancelled() -> None:
    event = _event(attendance_mode="online", sub_statuses=["Available", "Unavailable", "Available"])
    performances = map_event(event, account="a").performances
    assert [p.status for p in performances] == [
        PerformanceStatus.MOVED_ONLINE, PerformanceStatus.CANCELLED, PerformanceStatus.MOVED_ONLINE]
    assert performances[0].venue.name == "Online"


@pytest.mark.parametrize("workflow", ["DELETED", "REJECTED"])
def test_a_withdrawn_event_cancels_its_performances(workflow: str) -> None:
    event = _event(workflow_status=workflow)
    assert {p.status for p in map_event(event, account="a").performances} == {
        PerformanceStatus.CANCELLED}


@pytest.mark.parametrize("calendar", ["periodic", "permanent"])
def test_periodic_and_permanent_events_publish_nothing_and_say_why(calendar: str) -> None:
    mapped = map_event(_event(calendar_type=calendar), account="a")
    assert mapped.performances == [] and mapped.failures == []
    assert mapped.skipped == calendar


def test_a_draft_event_is_not_published() -> None:
    assert map_event(_event(workflow_status="DRAFT"), account="a").skipped == "draft"


def test_a_single_event_is_subevent_zero_and_takes_the_event_capacity_when_needed() -> None:
    event = _event(starts=STARTS[:1])
    assert event["calendarType"] == "single"
    del event["subEvent"][0]["bookingAvailability"]
    event["bookingAvailability"] = {"type": "Available", "capacity": 120}
    (perf,) = map_event(event, account="a").performances
    assert perf.performance_key.endswith("#0")
    assert perf.capacity == 120


def test_a_single_event_without_subevent_falls_back_to_its_own_dates() -> None:
    event = _event(starts=STARTS[:1])
    del event["subEvent"]
    (perf,) = map_event(event, account="a").performances
    assert perf.performance_key.endswith("#0") and perf.start == STARTS[0]


def test_partner_labels_add_dip_and_vendor_ids_to_the_subevent_they_name() -> None:
    event = _event(labels=["dip:NL-23-1234-5|7@1", "vendor:ticketmatic:acme:10234@2",
                           "dip:NL-23-1234-5|9", "UiTPAS Gent"])
    event["hiddenLabels"] = ["vendor:ticketmatic:acme:10230@0"]
    ids = [p.identifiers for p in map_event(event, account="a").performances]
    assert ids[0][2:] == [Identifier.vendor("ticketmatic", "acme", "10230")]
    assert ids[1][2:] == [Identifier.dip("NL-23-1234-5", 7)]
    assert ids[2][2:] == [Identifier.vendor("ticketmatic", "acme", "10234")]


def test_an_unindexed_partner_label_applies_to_a_single_event() -> None:
    event = _event(starts=STARTS[:1], labels=["DIP:NL-23-1234-5|9"])
    (perf,) = map_event(event, account="a").performances
    assert perf.identifiers[2:] == [Identifier.dip("NL-23-1234-5", 9)]


def test_a_bad_subevent_fails_alone() -> None:
    event = _event()
    event["subEvent"][1]["startDate"] = "volgende week"
    mapped = map_event(event, account="a")
    assert [p.performance_key[-2:] for p in mapped.performances] == ["#0", "#2"]
    ((ref, error),) = mapped.failures
    assert ref.endswith("#1")
    assert error.field == "subEvent[1].startDate"


@pytest.mark.parametrize(("change", "field"), [
    (lambda e: e.pop("name"), "name"),
    (lambda e: e.pop("modified"), "modified"),
    (lambda e: e.update({"@id": "https://io.uitdatabank.be/event/not-a-uuid"}), "@id"),
    (lambda e: e["location"].pop("name"), "location.name"),
    (lambda e: e.update({"calendarType": "weekly"}), "calendarType"),
])
def test_an_unreadable_event_raises_a_mapping_error_naming_the_field(change, field) -> None:  # type: ignore[no-untyped-def]
    event = _event()
    change(event)
    with pytest.raises(MappingError) as info:
        map_event(event, account="a")
    assert info.value.field == field


def test_the_same_document_gives_the_same_fact_ids_and_a_modification_new_ones() -> None:
    first = [p.fact_id for p in map_event(_event(), account="a").performances]
    again = [p.fact_id for p in map_event(_event(), account="a").performances]
    later = [p.fact_id for p in map_event(_event(modified=MODIFIED + timedelta(seconds=1)),
                                          account="a").performances]
    assert first == again
    assert not set(first) & set(later)


def test_subevent_booking_availability_is_declared_with_remaining_capacity() -> None:
    event = _event(capacities=[850, 850, 420], remaining=[12, 300, 0])
    event["subEvent"][1]["bookingAvailability"] = {"type": "Unavailable"}
    declared = [p.declared for p in map_event(event, account="a").performances]
    assert all(d is not None for d in declared)
    assert [(d.status, d.capacity, d.remaining) for d in declared if d] == [
        ("AVAILABLE", 850, 12), ("SOLD_OUT", None, None), ("SOLD_OUT", 420, 0)]
    assert declared[0] is not None and declared[0].source_field == "subEvent[0].bookingAvailability"
    assert declared[0].as_of == MODIFIED


def test_an_unknown_booking_availability_type_is_a_failure_naming_the_field() -> None:
    event = _event()
    event["subEvent"][2]["bookingAvailability"] = {"type": "Volzet"}
    mapped = map_event(event, account="a")
    assert len(mapped.performances) == 2
    (_, error), = mapped.failures
    assert error.field == "subEvent[2].bookingAvailability.type"

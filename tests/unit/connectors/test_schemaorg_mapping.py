"""schema.org Event JSON-LD (in HTML pages) -> performances."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from connectors.calendar.schemaorg.extract import blocks_of
from connectors.calendar.schemaorg.mapping import Page, map_page
from connectors.fakes.calendars import schemaorg_page, theater_event
from schemas.models import Identifier, Performance, PerformanceStatus

PAGE = Page("https://www.stadsschouwburg-utrecht.nl/agenda", "stadsschouwburg-utrecht.nl",
            ZoneInfo("Europe/Amsterdam"), "NL", datetime(2025, 2, 1, 12, 0, tzinfo=UTC))

#: A festival page as sites publish it: @graph with WebPage, Organization, a series
#: whose subEvents are referenced by @id, and a standalone show with a DIP id.
FESTIVAL = {
    "@context": "https://schema.org",
    "@graph": [
        {"@type": "WebPage", "@id": "https://www.stadsschouwburg-utrecht.nl/agenda#webpage"},
        {"@type": "Festival", "@id": "#festival", "name": "Spring Dance",
         "eventStatus": "https://schema.org/EventScheduled",
         "location": {"@id": "#zaal"},
         "offers": {"@type": "Offer", "url": "https://tickets.ssu.nl/springdance",
                    "validFrom": "2025-01-15T10:00:00+01:00"},
         "subEvent": [{"@id": "#d1"}, {"@id": "#d2"}]},
        {"@type": "DanceEvent", "@id": "#d1", "startDate": "2025-04-18T20:15:00+02:00",
         "endDate": "2025-04-18T21:30:00+02:00", "maximumAttendeeCapacity": 380,
         "remainingAttendeeCapacity": 40},
        {"@type": "DanceEvent", "@id": "#d2", "startDate": "2025-04-19T20:15",
         "eventStatus": "schema:EventPostponed"},
        {"@type": "Place", "@id": "#zaal", "name": "Stadsschouwburg Utrecht - Blauwe Zaal",
         "address": {"@type": "PostalAddress", "postalCode": "3512 EH",
                     "addressLocality": "Utrecht", "addressCountry": {"@type": "Country",
                                                                      "name": "Nederland"}}},
        theater_event("Hamlet", "2025-05-02T20:00:00+02:00", event_id="#hamlet",
                      identifier={"@type": "PropertyValue", "propertyID": "dip",
                                  "value": "NL-24-0042-1|3"},
                      valid_from="2025-02-01T10:00:00+01:00"),
    ],
}


def _map(html: str | bytes, page: Page = PAGE) -> tuple[list[Performance], list[Any]]:
    body = html.encode() if isinstance(html, str) else html
    return map_page(blocks_of(body, "text/html; charset=utf-8"), page)


def _html(*blocks: Any) -> str:
    scripts = "".join(f'<script type="application/ld+json">{json.dumps(b)}</script>'
                      for b in blocks)
    return f"<html><head>{scripts}</head><body><p>Agenda &amp; tickets</p></body></html>"


def test_a_graph_series_gives_one_performance_per_subevent_inheriting_the_series() -> None:
    performances, failures = _map(_html(FESTIVAL))
    assert failures == []
    by_start = {p.start: p for p in performances}
    d1 = by_start[datetime(2025, 4, 18, 18, 15, tzinfo=UTC)]
    assert d1.title == "Spring Dance"
    assert d1.capacity == 380
    assert d1.end == datetime(2025, 4, 18, 19, 30, tzinfo=UTC)
    assert d1.status is PerformanceStatus.SCHEDULED
    assert d1.genre == "dance"
    assert (d1.venue.name, d1.venue.postcode, d1.venue.city, d1.venue.country) == (
        "Stadsschouwburg Utrecht - Blauwe Zaal", "3512 EH", "Utrecht", "NL")
    assert d1.venue.id == "https://www.stadsschouwburg-utrecht.nl/agenda#zaal"
    assert d1.url == "https://tickets.ssu.nl/springdance"
    assert d1.on_sale_from == datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
    assert d1.performance_key == ("schemaorg:www.stadsschouwburg-utrecht.nl|"
                                  "https://www.stadsschouwburg-utrecht.nl/agenda#d1")
    # a floating startDate is read in the page's zone (CEST in April)
    d2 = by_start[datetime(2025, 4, 19, 18, 15, tzinfo=UTC)]
    assert d2.status is PerformanceStatus.POSTPONED
    assert len(performances) == 3  # the Festival itself is not a performance


def test_a_dip_identifier_becomes_the_key_and_the_page_id_stays_in_identifiers() -> None:
    performances, _ = _map(_html(FESTIVAL))
    (hamlet,) = [p for p in performances if p.title == "Hamlet"]
    assert hamlet.performance_key == "dip|NL-24-0042-1|00003"
    assert hamlet.identifiers == [
        Identifier.dip("NL-24-0042-1", 3),
        Identifier(namespace="schemaorg:www.stadsschouwburg-utrecht.nl",
                   value="https://www.stadsschouwburg-utrecht.nl/agenda#hamlet")]
    assert hamlet.production_id == "NL-24-0042-1"
    assert hamlet.capacity == 926 and hamlet.genre == "theatre"


def test_a_uit_id_in_same_as_or_identifier_is_the_key_when_there_is_no_dip_id() -> None:
    event = theater_event("Ubu", "2025-05-03T20:00:00+02:00",
                          identifier="uit:0e8f3a4c-6b0e-4f7e-a6f5-2b1a1d2b9c11#2")
    event["sameAs"] = ["https://nl.wikipedia.org/wiki/Ubu_roi", "vendor:ticketmatic:ssu:4711"]
    (perf,), _ = _map(schemaorg_page([event]))
    assert perf.performance_key == "uit|0e8f3a4c-6b0e-4f7e-a6f5-2b1a1d2b9c11#2"
    assert Identifier.vendor("ticketmatic", "ssu", "4711") in perf.identifiers
    assert perf.identifiers[-1].namespace == "schemaorg:www.stadsschouwburg-utrecht.nl"
    assert perf.identifiers[-1].value == (
        "https://www.stadsschouwburg-utrecht.nl/agenda#2025-05-03T18:00:00+00:00")


@pytest.mark.parametrize(("status", "expected"), [
    ("EventScheduled", PerformanceStatus.SCHEDULED),
    ("EventRescheduled", PerformanceStatus.SCHEDULED),
    ("EventPostponed", PerformanceStatus.POSTPONED),
    ("EventCancelled", PerformanceStatus.CANCELLED),
    ("EventMovedOnline", PerformanceStatus.MOVED_ONLINE),
])
def test_event_status_maps_to_performance_status(status: str, expected: PerformanceStatus) -> None:
    (perf,), _ = _map(schemaorg_page([theater_event("X", "2025-05-03T20:00:00+02:00",
                                                    status=status)]))
    assert perf.status is expected


def test_a_cancelled_series_cancels_subevents_that_say_nothing() -> None:
    series = theater_event("Tournee", "2025-05-01T20:00:00+02:00", status="EventCancelled",
                           sub_events=[{"@type": "TheaterEvent",
                                        "startDate": f"2025-05-0{d}T20:00:00+02:00"}
                                       for d in (1, 2)])
    performances, _ = _map(schemaorg_page([series], graph=False))
    assert {p.status for p in performances} == {PerformanceStatus.CANCELLED}


def test_every_event_subtype_and_prefix_form_is_recognised() -> None:
    events = [theater_event(f"E{i}", f"2025-05-0{i + 1}T20:00:00+02:00", type_=t)
              for i, t in enumerate(["MusicEvent", "schema:ComedyEvent",
                                     "https://schema.org/ScreeningEvent", "Event"])]
    performances, _ = _map(schemaorg_page(events))
    assert [p.genre for p in performances] == ["music", "comedy", "film", None]


def test_a_broken_block_and_a_bad_event_become_failures_and_the_rest_maps() -> None:
    good = theater_event("Goed", "2025-05-03T20:00:00+02:00")
    bad = theater_event("Fout", "binnenkort")
    html = schemaorg_page([good, bad], graph=False, extra_blocks=['{"@type": "Event",'])
    performances, failures = _map(html)
    assert [p.title for p in performances] == ["Goed"]
    errors = sorted(str(f.error) for f in failures)
    assert any("not valid JSON" in e for e in errors)
    assert any("startDate" in e for e in errors)
    assert any(f.raw == b'{"@type": "Event",' for f in failures)


def test_a_json_ld_document_is_read_without_html() -> None:
    body = json.dumps([theater_event("Los", "2025-05-03T20:00:00+02:00")]).encode()
    performances, failures = map_page(blocks_of(body, "application/ld+json"), PAGE)
    assert [p.title for p in performances] == ["Los"] and failures == []


def test_date_modified_is_the_event_time_and_otherwise_the_page_time() -> None:
    events = [theater_event("A", "2025-05-03T20:00:00+02:00", modified="2025-01-20T08:00:00Z"),
              theater_event("B", "2025-05-04T20:00:00+02:00")]
    a, b = _map(schemaorg_page(events))[0]
    assert a.event_time == datetime(2025, 1, 20, 8, 0, tzinfo=UTC)
    assert b.event_time == PAGE.modified


def test_fact_ids_follow_the_content_not_the_fetch() -> None:
    html = schemaorg_page([theater_event("A", "2025-05-03T20:00:00+02:00")])
    later = Page(PAGE.url, PAGE.account, PAGE.timezone, "NL", datetime(2025, 3, 1, tzinfo=UTC))
    changed = schemaorg_page([theater_event("A", "2025-05-03T20:00:00+02:00", capacity=500)])
    assert _map(html)[0][0].fact_id == _map(html, later)[0][0].fact_id
    assert _map(html)[0][0].fact_id != _map(changed)[0][0].fact_id


def test_a_belgian_address_by_country_name() -> None:
    event = theater_event("Gent", "2025-05-03T20:00:00+02:00", venue="NTGent",
                          postcode="9000", city="Gent", country="België")
    (perf,), _ = _map(schemaorg_page([event]))
    assert perf.venue.country == "BE"


def test_an_offer_declared_sold_out_is_declared_sold_out_with_the_remaining_places() -> None:
    (perf,), _ = _map(schemaorg_page([theater_event("Los", "2025-05-03T20:00:00+02:00",
                                                    availability="SoldOut", remaining=0)]))
    assert perf.declared is not None
    assert (perf.declared.status, perf.declared.remaining, perf.declared.capacity) == ("SOLD_OUT", 0, 926)
    (limited,), _ = _map(schemaorg_page([theater_event("Los", "2025-05-03T20:00:00+02:00",
                                                       availability="LimitedAvailability")]))
    assert limited.declared is not None and limited.declared.status == "LIMITED"


def test_an_availability_outside_item_availability_is_a_failure_naming_it() -> None:
    performances, failures = _map(schemaorg_page([theater_event(
        "Los", "2025-05-03T20:00:00+02:00", availability="Uitverkocht")]))
    assert performances == [] and failures[0].error.field == "offers.availability"

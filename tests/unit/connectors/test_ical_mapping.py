"""iCalendar feeds -> performances, one per occurrence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from connectors.calendar.ical.mapping import Feed, map_feed
from connectors.fakes.calendars import ical_feed, vevent
from schemas.models import Identifier, PerformanceStatus

NOW = datetime(2030, 1, 1, tzinfo=UTC)
FEED = Feed("agenda.ssu.nl", "agenda.ssu.nl", ZoneInfo("Europe/Amsterdam"),
            venue_name="Stadsschouwburg Utrecht", venue_city="Utrecht", venue_postcode="3512 EH")
UID = "hamlet-2030@ssu.nl"

#: Weekly Hamlet (TZID Europe/Amsterdam), the second show moved to a Sunday matinee,
#: the third cancelled.
SERIES = [
    vevent(UID, "20300301T200000", end="20300301T223000", rrule="FREQ=WEEKLY;COUNT=4",
           summary="Hamlet", sequence=1, url="https://ssu.nl/hamlet"),
    vevent(UID, "20300310T143000", end="20300310T170000", recurrence_id="20300308T200000",
           summary="Hamlet (matinee)", sequence=2, location="Blauwe Zaal"),
    vevent(UID, "20300315T200000", recurrence_id="20300315T200000", summary="Hamlet",
           status="CANCELLED", sequence=2),
]


def _map(events: list[str], feed: Feed = FEED, **kw: object):  # type: ignore[no-untyped-def]
    return map_feed(ical_feed(events, **kw).encode(), feed, now=NOW,  # type: ignore[arg-type]
                    fetched=datetime(2030, 1, 1, 6, 0, tzinfo=UTC))


def _key(start: str) -> str:
    return f"ical:agenda.ssu.nl|{UID}@{start}"


def test_a_weekly_series_with_a_moved_and_a_cancelled_occurrence() -> None:
    performances, failures = _map(SERIES)
    assert failures == []
    assert [p.performance_key for p in performances] == [
        _key("2030-03-01T19:00:00+00:00"), _key("2030-03-08T19:00:00+00:00"),
        _key("2030-03-15T19:00:00+00:00"), _key("2030-03-22T19:00:00+00:00")]
    first, moved, cancelled, last = performances
    assert (first.start, first.end) == (datetime(2030, 3, 1, 19, 0, tzinfo=UTC),
                                        datetime(2030, 3, 1, 21, 30, tzinfo=UTC))
    # the moved show keeps the key of its original date, with its new time and hall
    assert (moved.start, moved.title, moved.hall) == (
        datetime(2030, 3, 10, 13, 30, tzinfo=UTC), "Hamlet (matinee)", "Blauwe Zaal")
    assert cancelled.status is PerformanceStatus.CANCELLED
    assert {first.status, moved.status, last.status} == {PerformanceStatus.SCHEDULED}
    assert first.capacity is None
    assert first.venue.name == "Stadsschouwburg Utrecht" and first.hall == "Grote Zaal"
    assert first.url == "https://ssu.nl/hamlet"
    assert first.event_time == datetime(2025, 1, 10, 9, 0, tzinfo=UTC)  # LAST-MODIFIED
    assert first.identifiers == [Identifier(namespace="ical:agenda.ssu.nl",
                                            value=f"{UID}@2030-03-01T19:00:00+00:00")]


def test_occurrences_outside_the_horizon_are_not_expanded() -> None:
    feed = Feed(**{**FEED.__dict__, "horizon_days": 30})
    performances, _ = _map([vevent("weekly@x", "20300105T200000", rrule="FREQ=WEEKLY")], feed)
    assert len(performances) == 4
    assert max(p.start for p in performances) < NOW + timedelta(days=30)


def test_floating_times_are_read_in_the_feed_zone_or_the_calendars_x_wr_timezone() -> None:
    floating = [vevent("f@x", "20300701T200000", tzid=None)]
    (amsterdam,), _ = _map(floating)
    assert amsterdam.start == datetime(2030, 7, 1, 18, 0, tzinfo=UTC)
    (london,), _ = _map(floating, x_wr_timezone="Europe/London")
    assert london.start == datetime(2030, 7, 1, 19, 0, tzinfo=UTC)


def test_a_new_sequence_changes_the_fact_id_and_a_new_dtstamp_does_not() -> None:
    (before,), _ = _map([vevent("s@x", "20300301T200000", sequence=1)])
    (bumped,), _ = _map([vevent("s@x", "20300301T200000", sequence=2)])
    restamped = vevent("s@x", "20300301T200000", sequence=1).replace(
        "DTSTAMP:20250115T120000Z", "DTSTAMP:20300101T050000Z")
    (same,), _ = _map([restamped])
    assert before.fact_id != bumped.fact_id
    assert before.fact_id == same.fact_id


def test_one_bad_event_is_a_failure_and_the_others_map() -> None:
    events = [vevent("ok@x", "20300301T200000"),
              vevent("bad@x", "20300302T200000", status="MAYBE"),
              vevent("nosummary@x", "20300303T200000", rrule="FREQ=DAILY;COUNT=3").replace(
                  "SUMMARY:Voorstelling\r\n", "")]
    performances, failures = _map(events)
    assert [p.performance_key.split("|")[1].split("@")[0] for p in performances] == ["ok"]
    assert len(failures) == 2  # one per event, not one per occurrence
    assert any(b"UID:bad@x" in f.raw and "STATUS" in str(f.error) for f in failures)
    assert any(b"UID:nosummary@x" in f.raw and "SUMMARY" in str(f.error) for f in failures)


def test_a_body_that_is_not_icalendar_is_one_failure_with_its_bytes() -> None:
    body = b"<html>Login required</html>"
    performances, failures = map_feed(body, FEED, now=NOW, fetched=NOW)
    assert performances == []
    assert failures[0].raw == body


def test_without_a_configured_venue_location_is_the_venue_and_required() -> None:
    feed = Feed("f", "f", ZoneInfo("Europe/Brussels"), venue_country="BE", capacity_default=250)
    (perf,), failures = _map([vevent("a@x", "20300301T200000", location="Vooruit, Gent"),
                              vevent("b@x", "20300301T200000", location=None)], feed)
    assert (perf.venue.name, perf.venue.country, perf.hall, perf.capacity) == (
        "Vooruit, Gent", "BE", None, 250)
    assert "LOCATION" in str(failures[0].error)


def test_all_day_events_start_at_local_midnight() -> None:
    (perf,), _ = _map(["BEGIN:VEVENT\r\nUID:day@x\r\nDTSTAMP:20250101T000000Z\r\n"
                       "DTSTART;VALUE=DATE:20300402\r\nSUMMARY:Open dag\r\nEND:VEVENT"])
    assert perf.start == datetime(2030, 4, 1, 22, 0, tzinfo=UTC)


def test_a_partner_id_on_a_single_event_is_kept_but_not_on_a_series() -> None:
    tag = ["X-CULTUURBUS-ID:dip:NL-30-0001-1|4"]
    (single,), _ = _map([vevent("one@x", "20300301T200000", extra=tag)])
    series, _ = _map([vevent("many@x", "20300301T200000", rrule="FREQ=DAILY;COUNT=2", extra=tag)])
    assert single.identifiers[1:] == [Identifier.dip("NL-30-0001-1", 4)]
    assert all(len(p.identifiers) == 1 for p in series)

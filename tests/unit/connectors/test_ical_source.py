"""Polling a (fake) iCalendar feed: unchanged events are not published again."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.calendar.common import Backoff
from connectors.calendar.ical.source import IcalSource
from connectors.fakes.calendars import FakeCalendarSite, ical_feed, vevent
from connectors.sdk.records import SourceRecord

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def test_a_changed_event_publishes_again_and_unchanged_ones_do_not() -> None:
    with FakeCalendarSite() as site:
        url = site.put("/agenda.ics", ical_feed([
            vevent("a@x", "20300301T200000", rrule="FREQ=WEEKLY;COUNT=3"),
            vevent("b@x", "20300302T200000")]), "text/calendar")
        source = IcalSource(url,
                            name="ssu", venue_name="SSU", backoff=Backoff(0.01, 0.05),
                            clock=lambda: NOW)
        first = source.poll(None)
        assert len(first.items) == 4
        assert set(first.position["items"]) == {
            "a@x@2030-03-01T19:00:00+00:00", "a@x@2030-03-08T19:00:00+00:00",
            "a@x@2030-03-15T19:00:00+00:00", "b@x@2030-03-02T19:00:00+00:00"}
        assert source.poll(first.position).items == []  # 304
        site.put("/agenda.ics", ical_feed([
            vevent("a@x", "20300301T200000", rrule="FREQ=WEEKLY;COUNT=3"),
            vevent("b@x", "20300302T200000", status="CANCELLED", sequence=1)]), "text/calendar")
        third = source.poll(first.position)
        assert [(i.value.performance_key, i.value.status.value) for i in third.items
                if isinstance(i, SourceRecord)] == [
            ("ical:ssu|b@x@2030-03-02T19:00:00+00:00", "CANCELLED")]

"""The iCalendar connector end to end: fake feed -> real Kafka."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from bus.serde import Registry
from bus.settings import Settings
from bus.topics import PERFORMANCES, dlq_of
from connectors.calendar.common import Backoff
from connectors.calendar.ical.source import IcalSource
from connectors.fakes.calendars import FakeCalendarSite, ical_feed, read_back, vevent
from connectors.sdk.context import ConnectorContext
from connectors.sdk.runner import SourceRunner
from tests.integration.connectors.readback import published_performances

pytestmark = pytest.mark.integration

NOW = datetime(2030, 1, 1, tzinfo=UTC)



def _feed(cancel_third: bool = False) -> str:
    uid = "hamlet@ssu.nl"
    return ical_feed([
        vevent(uid, "20300301T200000", end="20300301T223000", rrule="FREQ=WEEKLY;COUNT=3",
               summary="Hamlet", sequence=1),
        vevent(uid, "20300315T200000", recurrence_id="20300315T200000", summary="Hamlet",
               status="CANCELLED" if cancel_third else "CONFIRMED", sequence=2),
        vevent("broken@ssu.nl", "20300401T200000", status="SOMEDAY"),
    ])


def _run(context: ConnectorContext, url: str, feed: str) -> SourceRunner:
    source = IcalSource(url, name=feed, venue_name="Stadsschouwburg Utrecht",
                        venue_city="Utrecht", backoff=Backoff(0.05, 0.2), clock=lambda: NOW)
    runner = SourceRunner(source, context.publisher, context.positions, poll_interval_s=0.1,
                          backoff_max_s=0.5)
    runner.run(until_caught_up=True)
    return runner



def test_an_ical_feed_arrives_on_calendar_performances_and_a_changed_occurrence_again(
        topics: Settings, registry: Registry, context: ConnectorContext) -> None:
    feed = f"ssu-{uuid.uuid4().hex[:6]}"
    with FakeCalendarSite() as site:
        url = site.put("/agenda.ics", _feed(), "text/calendar; charset=utf-8")
        site.fail_next(2, status=502)
        assert _run(context, url, feed).published == 3
        records = {r["performance_key"]: r for r in published_performances(topics, registry, feed)}
        key = f"ical:{feed}|hamlet@ssu.nl@2030-03-15T19:00:00+00:00"
        assert len(records) == 3 and key in records
        assert records[key]["status"] == "SCHEDULED"
        assert records[key]["capacity"] is None
        assert records[key]["venue"]["name"] == "Stadsschouwburg Utrecht"
        assert records[key]["hall"] == "Grote Zaal"
        assert records[key]["identifiers"] == [
            {"namespace": f"ical:{feed}", "value": "hamlet@ssu.nl@2030-03-15T19:00:00+00:00"}]

        assert _run(context, url, feed).published == 0

        site.put("/agenda.ics", _feed(cancel_third=True), "text/calendar; charset=utf-8")
        assert _run(context, url, feed).published == 1
        latest = [r for r in published_performances(topics, registry, feed) if r["performance_key"] == key]
        assert [r["status"] for r in latest] == ["SCHEDULED", "CANCELLED"]

    dead = [r for r in read_back(topics, dlq_of(PERFORMANCES))
            if r.headers.get("errors.source") == context.name]
    assert len(dead) == 1
    assert b"STATUS:SOMEDAY" in dead[0].value
    # RFC 5545 UIDs look like e-mail addresses, so the SDK's scrubber masks them
    assert b"UID:[redacted-email]" in dead[0].value
    assert "STATUS" in dead[0].headers["errors.exception.message"]

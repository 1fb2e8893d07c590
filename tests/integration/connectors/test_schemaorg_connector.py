"""The schema.org connector end to end: fake venue site -> real Kafka."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from bus.serde import Registry
from bus.settings import Settings
from bus.topics import PERFORMANCES, dlq_of
from connectors.calendar.common import Backoff
from connectors.calendar.schemaorg.source import SchemaOrgSource
from connectors.fakes.calendars import FakeCalendarSite, read_back, schemaorg_page, theater_event
from connectors.sdk.context import ConnectorContext
from connectors.sdk.runner import SourceRunner
from tests.integration.connectors.readback import published_performances

pytestmark = pytest.mark.integration


@pytest.fixture
def site() -> Iterator[FakeCalendarSite]:
    with FakeCalendarSite() as server:
        yield server



def _run(context: ConnectorContext, url: str, account: str) -> SourceRunner:
    runner = SourceRunner(SchemaOrgSource(url, account=account, backoff=Backoff(0.05, 0.2)),
                          context.publisher, context.positions, poll_interval_s=0.1,
                          backoff_max_s=0.5)
    runner.run(until_caught_up=True)
    return runner



def _page(capacity: int = 380) -> str:
    series = theater_event("Spring Dance", "2030-04-18T20:15:00+02:00", type_="DanceEvent",
                           event_id="#festival", sub_events=[
                               {"@type": "DanceEvent", "@id": "#d1",
                                "startDate": "2030-04-18T20:15:00+02:00",
                                "maximumAttendeeCapacity": capacity},
                               {"@type": "DanceEvent", "@id": "#d2",
                                "startDate": "2030-04-19T20:15:00+02:00",
                                "eventStatus": "https://schema.org/EventCancelled"}])
    hamlet = theater_event("Hamlet", "2030-05-02T20:00:00+02:00", event_id="#hamlet",
                           identifier={"@type": "PropertyValue", "propertyID": "dip",
                                       "value": "NL-30-0042-1|3"})
    return schemaorg_page([series, hamlet], extra_blocks=['{"@type": "TheaterEvent", "name":'])


def test_a_venue_page_arrives_on_calendar_performances_and_only_changes_go_again(
        topics: Settings, registry: Registry, site: FakeCalendarSite,
        context: ConnectorContext) -> None:
    account = f"site-{uuid.uuid4().hex[:6]}"
    url = site.put("/agenda", _page())
    site.fail_next(2)  # the site is down for the first two attempts
    first = _run(context, url, account)
    assert first.published == 3
    records = {r["performance_key"]: r for r in published_performances(topics, registry, account)}
    host = "schemaorg:127.0.0.1"
    assert set(records) == {f"{host}|{url}#d1", f"{host}|{url}#d2", "dip|NL-30-0042-1|00003"}
    assert records[f"{host}|{url}#d1"]["capacity"] == 380
    assert records[f"{host}|{url}#d2"]["status"] == "CANCELLED"
    assert [(i["namespace"], i["value"]) for i in records["dip|NL-30-0042-1|00003"]["identifiers"]] == [
        ("dip", "NL-30-0042-1|00003"), (host, f"{url}#hamlet")]

    assert _run(context, url, account).published == 0  # unchanged page: nothing

    site.put("/agenda", _page(capacity=300))
    assert _run(context, url, account).published == 1

    dead = [r for r in read_back(topics, dlq_of(PERFORMANCES))
            if r.headers.get("errors.source") == context.name]
    assert len(dead) == 1  # the broken block, once, though the page changed
    assert dead[0].value == b'{"@type": "TheaterEvent", "name":'
    assert "not valid JSON" in dead[0].headers["errors.exception.message"]
    assert dead[0].headers["errors.source.position"] == url

"""Property tests of the calendar connectors (UiTdatabank, iCalendar, schema.org): any
document, any member, any bytes become performances the Avro contract can encode and
dead letters whose ``MappingError`` names the field, or a ``Retry`` the runner backs
off on. No other exception leaves a mapping or a source's ``poll``.

Hypothesis profile ``connectors-properties``: ``deadline=None``, ``max_examples=200``,
``derandomize=True`` (reproducible in CI), no example database.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from hypothesis import example, given
from hypothesis import strategies as st

from connectors.calendar.common import parse_datetime
from connectors.calendar.ical import IcalSource
from connectors.calendar.ical.mapping import Feed, map_feed
from connectors.calendar.schemaorg import SchemaOrgSource
from connectors.calendar.schemaorg.extract import blocks_of
from connectors.calendar.schemaorg.mapping import Page, map_page
from connectors.calendar.uitdatabank import UitdatabankSource
from connectors.calendar.uitdatabank.mapping import map_event
from connectors.fakes.calendars import ical_feed, schemaorg_page, theater_event, vevent
from connectors.fakes.uitdatabank import uit_event
from connectors.sdk.errors import MappingError, Retry
from connectors.sdk.records import DeadLetter, PollResult, SourceRecord
from tests.support.properties import PROFILE, encode, hostile_json, scalars

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# -- strategies ----------------------------------------------------------------------
EDGE_TEXT = ["", " ", "\x00", "\ud800", "NaN", "http://[", "//[::1", "1e999", "²",
             "dip:NL-23-1|²", "dip:NL-23-1234-5|3@²", "uit:5e2b6c1f-0000-4000-8000-00000000000a#²",
             "vendor:a:b:c@" + "9" * 5000, "https://schema.org/EventCancelled"]
SCALARS = scalars(EDGE_TEXT)
JSON = hostile_json(SCALARS)
HOSTILE = st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                    st.dictionaries(st.sampled_from(["type", "@id", "@value", "name", "nl"]),
                                    SCALARS, max_size=3), JSON)



def check_poll(result: PollResult) -> None:
    """Every fact encodes; every dead letter carries bytes and a MappingError with a field."""
    for item in result.items:
        if isinstance(item, SourceRecord):
            encode(item.value)
        else:
            assert isinstance(item, DeadLetter) and isinstance(item.raw, bytes)
            assert isinstance(item.error, MappingError) and item.error.field, item.error
            assert len(item.raw) <= 600_000
    json.dumps(result.position)


def override(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with the dotted paths in ``changes`` set (``subEvent.0.startDate``); a path
    through a value an earlier change replaced is left out."""
    out = copy.deepcopy(base)
    for path, value in changes.items():
        node: Any = out
        keys = path.split(".")
        for n, key in enumerate(keys):
            if isinstance(node, list) and key.isdigit() and int(key) < len(node):
                slot: Any = int(key)
            elif isinstance(node, dict):
                slot = key
            else:
                break
            if n == len(keys) - 1:
                node[slot] = value
            else:
                node = node[slot] if isinstance(node, list) else node.setdefault(slot, {})
    return out


# -- shared values ---------------------------------------------------------------------
@PROFILE
@given(st.one_of(HOSTILE, st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),  # noqa: DTZ001
                                       timezones=st.sampled_from([UTC, AMSTERDAM, None]))))
@example("9999-12-31T23:59:59-12:00")
@example("0001-01-01T00:00:00+14:00")
def test_any_value_is_an_aware_utc_time_or_an_error_naming_the_field(value: Any) -> None:
    try:
        when = parse_datetime(value, "startDate", AMSTERDAM)
    except MappingError as exc:
        assert exc.field == "startDate"
        return
    assert when.tzinfo is UTC


# -- UiTdatabank -----------------------------------------------------------------------
UIT_BASE = uit_event(1, starts=[datetime(2025, 4, 10, 18, tzinfo=UTC),
                                datetime(2025, 4, 11, 18, tzinfo=UTC)], modified=NOW)
UIT_PATHS = ["@id", "modified", "calendarType", "workflowStatus", "mainLanguage", "name",
             "location", "location.@id", "location.name", "location.address",
             "location.address.nl.addressCountry", "location.address.nl.postalCode", "terms",
             "production", "production.id", "subEvent", "subEvent.0", "subEvent.0.id",
             "subEvent.0.startDate", "subEvent.1.endDate", "subEvent.0.status",
             "subEvent.1.status.type", "subEvent.0.bookingAvailability.capacity",
             "bookingInfo", "bookingInfo.url", "bookingInfo.availabilityStarts", "status",
             "attendanceMode", "labels", "hiddenLabels", "startDate"]
UIT_EVENTS = st.builds(override, st.just(UIT_BASE),
                       st.dictionaries(st.sampled_from(UIT_PATHS), HOSTILE, max_size=4))


def check_uit(event: Any) -> None:
    try:
        mapped = map_event(event, account="search.uitdatabank.be")
    except MappingError as exc:
        assert exc.field, exc
        return
    for p in mapped.performances:
        encode(p)
    for _ref, exc in mapped.failures:
        assert isinstance(exc, MappingError) and exc.field


@PROFILE
@given(JSON)
def test_any_json_member_maps_to_encodable_performances_or_errors_with_a_field(member: Any) -> None:
    check_uit(member)


@PROFILE
@given(UIT_EVENTS)
@example(override(UIT_BASE, {"modified": "9999-12-31T23:59:59-12:00"}))
@example(override(UIT_BASE, {"workflowStatus": ["DELETED"]}))
@example(override(UIT_BASE, {"calendarType": {"x": 1}}))
@example(override(UIT_BASE, {"subEvent.0.status": {"type": ["Available"]}}))
@example(override(UIT_BASE, {"labels": 5}))
@example(override(UIT_BASE, {"labels": ["dip:NL-23-1234-5|3@²"]}))
@example(override(UIT_BASE, {"subEvent.0.bookingAvailability.capacity": 2**70}))
@example(override(UIT_BASE, {"modified": "1999-12-31T23:59:59Z"}))
def test_a_documented_event_with_hostile_values_maps_or_names_the_field(event: dict[str, Any]) -> None:
    check_uit(event)


def _transport(body: bytes, content_type: str = "application/json",
               headers: dict[str, str] | None = None) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body,
                              headers={"Content-Type": content_type, **(headers or {})})

    return httpx.Client(transport=httpx.MockTransport(answer))


DEEP = b"[" * 100_000 + b"]" * 100_000
UIT_BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([DEEP, b'{"member": [' + DEEP + b"]}", b"1" * 5000,
                     b'{"member": ["\\ud800"], "totalItems": 1}',
                     b'{"member": [{"@id": "x", "name": "\\ud800"}]}']),
    st.builds(lambda members, total: json.dumps(
        {"member": members, "totalItems": total, "itemsPerPage": 30}, allow_nan=True).encode(),
        st.lists(st.one_of(UIT_EVENTS, JSON), max_size=3), HOSTILE),
)


@PROFILE
@given(UIT_BODIES)
@example(json.dumps({"member": [override(UIT_BASE, {"modified": "9999-12-31T23:59:59Z"})]}).encode())
def test_any_search_page_body_becomes_facts_and_dead_letters_or_a_retry(body: bytes) -> None:
    source = UitdatabankSource("http://uit.test", client=_transport(body), settle_s=0,
                               clock=lambda: NOW)
    try:
        result = source.poll(None)
    except Retry:
        return
    check_poll(result)
    # a member claiming a future modification time must not carry the cursor past now
    assert datetime.fromisoformat(result.position["modifiedFrom"]) <= NOW


# -- iCalendar -------------------------------------------------------------------------
FEED = Feed("agenda.test", "agenda.test", AMSTERDAM)
ICAL_VALUES = st.one_of(st.from_regex(r"[0-9TZ]{0,17}", fullmatch=True),
                        st.sampled_from(["99991231T235959", "00010101T000000", "99991231",
                                         "20250410T200000Z", "", "x", "9" * 5000, "-1",
                                         "FREQ=DAILY;COUNT=3", "FREQ=SECONDLY",
                                         "FREQ=YEARLY;UNTIL=99991231T235959Z", "CANCELLED"]),
                        st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=20))
ICAL_PROPS = ["DTSTART", "DTSTART;TZID=Europe/Amsterdam", "DTSTART;TZID=Nowhere/Land",
              "DTSTART;VALUE=DATE", "DTEND", "RECURRENCE-ID", "RRULE", "RDATE", "EXDATE", "SEQUENCE",
              "STATUS", "SUMMARY", "LOCATION", "URL", "LAST-MODIFIED", "DTSTAMP",
              "X-CULTUURBUS-ID", "UID"]
VEVENTS = st.builds(
    lambda uid, start, extra: vevent(uid, start, extra=[f"{k}:{v}" for k, v in extra],
                                     last_modified=None),
    st.sampled_from(["a@test", "b@test", ""]), st.sampled_from(["20250410T200000", "99991231T235959",
                                                                "00010101T000000", "x"]),
    st.lists(st.tuples(st.sampled_from(ICAL_PROPS), ICAL_VALUES), max_size=4))
ICAL_BODIES = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda events, tz: ical_feed(events, x_wr_timezone=tz).encode(),
              st.lists(VEVENTS, max_size=3),
              st.one_of(st.none(), st.sampled_from(["Europe/Brussels", "../../etc", "x" * 300, ""]))),
    st.builds(lambda events, junk: ical_feed(events).encode()[:-15] + junk + b"END:VCALENDAR\r\n",
              st.lists(VEVENTS, max_size=2), st.binary(max_size=40)),
)


def check_ical(body: bytes) -> None:
    performances, failures = map_feed(body, FEED, now=NOW, fetched=NOW)
    for p in performances:
        encode(p)
    for f in failures:
        assert isinstance(f.raw, bytes) and isinstance(f.error, MappingError) and f.error.field


@PROFILE
@given(ICAL_BODIES)
@example(ical_feed([vevent("a@test", "20250410T200000", extra=["LAST-MODIFIED:99991231T235959"])]).encode())
@example(ical_feed([vevent("a@test", "99991231T235959", tzid="Etc/GMT+12", extra=[])]).encode())
@example(ical_feed([vevent("a@test", "20250410T200000", extra=["SEQUENCE:" + "9" * 5000])]).encode())
def test_any_bytes_as_a_feed_become_performances_or_dead_letters_naming_the_field(body: bytes) -> None:
    check_ical(body)


@PROFILE
@given(ICAL_BODIES, st.one_of(st.none(), st.sampled_from([
    "Fri, 31 Dec 9999 23:59:59 -1200", "Mon, 01 Jan 0001 00:00:00 +1400", "garbage",
    "Sat, 01 Jan 1990 00:00:00 GMT"])))
def test_any_feed_and_last_modified_header_poll_to_facts_and_dead_letters(
        body: bytes, last_modified: str | None) -> None:
    headers = {"Last-Modified": last_modified} if last_modified else {}
    source = IcalSource("http://agenda.test/feed.ics", client=_transport(body, "text/calendar", headers),
                        clock=lambda: NOW)
    check_poll(source.poll(None))


# -- schema.org ------------------------------------------------------------------------
SCHEMA_BASE = theater_event("Hamlet", "2025-04-10T20:00:00+02:00", end="2025-04-10T22:30:00+02:00",
                            event_id="#hamlet-1", valid_from="2025-01-10T10:00:00+01:00",
                            modified="2025-02-01T10:00:00+01:00")
SCHEMA_PATHS = ["@id", "@type", "name", "startDate", "endDate", "eventStatus", "location",
                "location.name", "location.@id", "location.address", "location.address.addressCountry",
                "maximumAttendeeCapacity", "offers", "offers.0.url", "offers.0.validFrom", "url",
                "identifier", "sameAs", "genre", "dateModified", "subEvent", "superEvent"]
SCHEMA_EVENTS = st.builds(override, st.just(SCHEMA_BASE),
                          st.dictionaries(st.sampled_from(SCHEMA_PATHS), HOSTILE, max_size=4))
PAGE = Page("https://www.schouwburg.test/agenda", "schouwburg.test", AMSTERDAM, "NL", NOW)


def check_page(body: bytes, content_type: str = "text/html") -> None:
    performances, failures = map_page(blocks_of(body, content_type), PAGE)
    for p in performances:
        encode(p)
    for f in failures:
        assert isinstance(f.raw, bytes) and isinstance(f.error, MappingError) and f.error.field, f.error


SELF_REF = {"@context": "https://schema.org", "@graph": [
    {**SCHEMA_BASE, "@id": "#series", "subEvent": [{"@id": "#show"}] * 40},
    {**SCHEMA_BASE, "@id": "#show", "subEvent": [{"@id": "#show"}] * 40}]}


@PROFILE
@given(st.lists(SCHEMA_EVENTS, max_size=3), st.booleans())
@example([override(SCHEMA_BASE, {"@id": "http://["})], True)
@example([override(SCHEMA_BASE, {"location": "http://["})], True)
@example([override(SCHEMA_BASE, {"startDate": "9999-12-31T23:59:59-12:00"})], False)
@example([override(SCHEMA_BASE, {"maximumAttendeeCapacity": 2**70})], False)
@example([override(SCHEMA_BASE, {"name": "\ud800"})], False)
def test_a_page_of_documented_events_with_hostile_values_maps_or_names_the_field(
        events: list[dict[str, Any]], graph: bool) -> None:
    check_page(schemaorg_page(events, graph=graph).encode("utf-8", "surrogatepass"))


@PROFILE
@given(st.one_of(st.binary(max_size=300), JSON.map(lambda j: json.dumps(j).encode()),
                 st.sampled_from([DEEP, b'<script type="application/ld+json">' + DEEP + b"</script>",
                                  json.dumps(SELF_REF).encode(), b"[" + b"[]," * 50_000 + b"[]]"])))
def test_any_bytes_as_a_page_become_performances_or_dead_letters_naming_the_field(body: bytes) -> None:
    check_page(body, "application/ld+json" if body[:1] in (b"[", b"{") else "text/html")


@PROFILE
@given(st.lists(SCHEMA_EVENTS, max_size=2), st.one_of(st.none(), st.sampled_from([
    "Fri, 31 Dec 9999 23:59:59 -1200", "garbage", "Sat, 01 Jan 1990 00:00:00 GMT"])))
def test_any_page_and_last_modified_header_poll_to_facts_and_dead_letters(
        events: list[dict[str, Any]], last_modified: str | None) -> None:
    body = schemaorg_page(events).encode("utf-8", "surrogatepass")
    headers = {"Last-Modified": last_modified} if last_modified else {}
    source = SchemaOrgSource("https://www.schouwburg.test/agenda",
                             client=_transport(body, "text/html", headers))
    check_poll(source.poll(None))


def test_a_show_that_lists_itself_as_its_own_subevent_forty_times_is_read_quickly() -> None:
    """Four levels of forty self-references were 2.5 million leaves (minutes of CPU)."""
    started = datetime.now(UTC)
    performances, _ = map_page(blocks_of(json.dumps(SELF_REF).encode(), "application/ld+json"), PAGE)
    assert len(performances) <= 1
    assert datetime.now(UTC) - started < timedelta(seconds=2)

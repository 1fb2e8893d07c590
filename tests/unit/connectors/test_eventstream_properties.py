"""Property tests of the Ticketmatic eventstream mapping and poller: any item (arbitrary
JSON, or a documented item with hostile values) becomes facts the Avro contract can
encode or a ``MappingError`` naming the input field; any page body becomes facts and
dead letters or a retriable error the runner backs off on. Nothing else escapes.

Hypothesis profile ``connectors-properties``: ``deadline=None``, ``max_examples=200``,
``derandomize=True`` (reproducible in CI), no example database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import SecretStr

from bus.errors import RetriableError
from connectors.sdk.errors import MappingError
from connectors.sdk.privacy import Pseudonymiser
from connectors.sdk.records import DeadLetter, SourceRecord
from connectors.sdk.window import EventTimeWindow
from connectors.ticketing.eventstream import EventstreamClient, EventstreamSource
from connectors.ticketing.eventstream.mapping import MappingEnv, map_item, redacted_item_bytes
from tests.support.properties import EDGE_INTS, EDGE_TIMES, PROFILE, encode, hostile_json, scalars

# -- strategies ----------------------------------------------------------------------
EDGE_TEXT = ["", " ", "\x00", "\ud800", "NaN", "-Infinity", "1e999999", "-sNaN", "1e30",
             "NL-23-1234-5|" + "9" * 5000, "NL-23-1234-5|3", "NL-23-1234-5|²"]
SCALARS = scalars(EDGE_TEXT)
JSON = hostile_json(SCALARS)
HOSTILE = st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                    st.dictionaries(st.text(max_size=5), SCALARS, max_size=3))


def _iso(d: datetime, offset: str) -> str:
    return d.isoformat() + offset


TIMES = st.one_of(
    st.builds(_iso, st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),  # noqa: DTZ001
              st.sampled_from(["", "Z", "+00:00", "+14:00", "-12:00", "+01:00"])),
    st.sampled_from(EDGE_TIMES), HOSTILE)


def maybe(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a plausible value, sometimes a hostile one."""
    return st.one_of(plausible, plausible, HOSTILE)


IDS = maybe(st.one_of(st.integers(min_value=1, max_value=10**7), st.text(min_size=1, max_size=12)))
PRICES = maybe(st.one_of(st.decimals(allow_nan=True, allow_infinity=True).map(str),
                         st.floats(allow_nan=True, allow_infinity=True),
                         st.sampled_from(["25.000000", "0", "-1.5", "1e999999", "sNaN"])))
CUSTOMER = st.fixed_dictionaries({
    "id": IDS,
    "birthdate": maybe(st.sampled_from(["1979-03-14", "0001-01-01", "99999-01-01", ""])),
    "addresses": maybe(st.lists(st.fixed_dictionaries({
        "zip": maybe(st.sampled_from(["3512 JE", "B-2000", "9000"])),
        "countrycode": maybe(st.sampled_from(["NL", "BE", "nl", "XX"]))}), max_size=2)),
})
TICKET = st.fixed_dictionaries({"id": IDS, "eventid": IDS, "price": PRICES,
                                "pricetypeid": maybe(st.integers(1, 5))})
ORDER = st.fixed_dictionaries({
    "orderid": IDS, "customerid": IDS, "customer": maybe(CUSTOMER),
    "saleschannelid": maybe(st.integers(1, 5)),
    "tickets": maybe(st.lists(TICKET, min_size=1, max_size=3)),
})
SCAN = st.fixed_dictionaries({
    "id": IDS, "eventid": IDS, "orderid": IDS, "pricetypeid": maybe(st.integers(1, 5)),
    "accesscontrolstatus": maybe(st.sampled_from([0, 1, 2])),
    "accesscontrollastenteredts": st.one_of(st.none(), TIMES),
})
CONTINGENT = st.fixed_dictionaries({"tickettypeid": IDS,
                                    "total": maybe(st.one_of(st.integers(0, 2000),
                                                             st.sampled_from(EDGE_INTS)))})
EVENT = st.fixed_dictionaries({
    "id": IDS, "name": maybe(st.one_of(st.text(max_size=20), st.dictionaries(
        st.sampled_from(["nl", "en"]), st.text(max_size=10), max_size=2))),
    "startts": TIMES, "endts": st.one_of(st.none(), TIMES), "salestartts": st.one_of(st.none(), TIMES),
    "currentstatus": maybe(st.sampled_from([19001, 19002])),
    "locationid": IDS, "locationname": maybe(st.text(max_size=20)),
    "availability": maybe(st.lists(maybe(CONTINGENT), max_size=3)),
    "c_dipid": maybe(st.sampled_from(["NL-23-1234-5|3", "NL-23-1|" + "9" * 5000, "NL-1|²", ""])),
})
ITEMS = st.one_of(
    st.fixed_dictionaries({"id": IDS, "ts": TIMES, "data": maybe(ORDER),
                           "type": st.sampled_from(["order:confirmed", "order:cancelled",
                                                    "order:refunded"])}),
    st.fixed_dictionaries({"id": IDS, "ts": TIMES, "data": maybe(SCAN),
                           "type": st.just("accesscontrol:scan")}),
    st.fixed_dictionaries({"id": IDS, "ts": TIMES, "data": maybe(EVENT),
                           "type": st.sampled_from(["event:created", "event:updated"])}),
)

# -- the contract --------------------------------------------------------------------


def env() -> MappingEnv:
    return MappingEnv("acme", Pseudonymiser(SecretStr("unit-test-secret-0123456789")))


def map_or_refuse(item: Any, e: MappingEnv) -> None:
    """``map_item``'s contract: encodable facts, or a MappingError with a field path."""
    try:
        mapped = map_item(item, e)
    except MappingError as exc:
        assert exc.field, f"MappingError without a field path: {exc}"
        return
    for record in mapped.records:
        assert isinstance(record, SourceRecord)
        encode(record.value)


# -- mapping ---------------------------------------------------------------------------
@PROFILE
@given(st.one_of(ITEMS, JSON))
@example({"id": 1, "type": "order:confirmed", "ts": "9999-12-31T23:59:59-12:00",
          "data": {"orderid": 1, "tickets": [{"id": 1, "eventid": 2, "price": "25"}]}})
@example({"id": 1, "type": "order:confirmed", "ts": "2025-02-03T14:30:00",
          "data": {"orderid": 1, "tickets": [{"id": 1, "eventid": 2, "price": "1e999999"}]}})
@example({"id": 1, "type": "order:confirmed", "ts": "2025-02-03T14:30:00",
          "data": {"orderid": 1, "tickets": [{"id": 1, "eventid": 2, "price": 2**70}]}})
@example({"id": 1, "type": "order:confirmed", "ts": "2025-02-03T14:30:00",
          "data": {"orderid": 1, "customerid": 7, "customer": {"addresses": 5},
                   "tickets": [{"id": 1, "eventid": 2, "price": "25"}]}})
@example({"id": 1, "type": "order:confirmed", "ts": "2025-02-03T14:30:00",
          "data": {"orderid": 1, "customerid": 7, "customer": {"addresses": [
              {"zip": 3512, "countrycode": 31}]}, "tickets": [{"id": 1, "eventid": 2}]}})
@example({"id": 1, "type": "event:updated", "ts": "2025-02-03T14:30:00",
          "data": {"id": 5, "name": "X", "startts": "2025-03-01T20:00:00",
                   "c_dipid": "NL-23-1|" + "9" * 5000}})
@example({"id": 1, "type": "event:updated", "ts": "2025-02-03T14:30:00",
          "data": {"id": 5, "name": "X", "startts": "2025-03-01T20:00:00",
                   "availability": [{"total": 2**70}]}})
@example({"id": 1, "type": "event:updated", "ts": "2025-02-03T14:30:00",
          "data": {"id": 5, "name": "\ud800", "startts": "2025-03-01T20:00:00"}})
def test_any_item_or_documented_item_with_hostile_values_maps_or_names_the_field(item: Any) -> None:
    map_or_refuse(item, env())


@PROFILE
@given(ITEMS)
def test_a_refused_contract_value_names_the_input_field_not_the_fact_field(item: dict[str, Any]) -> None:
    try:
        map_item(item, env())
    except MappingError as exc:
        assert exc.field is not None
        head = exc.field.split(".")[0].split("[")[0]
        assert head in ("item", "id", "type", "ts", "data"), exc.field


@PROFILE
@given(JSON)
@example({"name": "\ud800", "customer": {"id": 1, "email": "a@b.nl"}})
def test_the_dead_letter_bytes_of_any_item_are_json_with_customers_withheld(item: Any) -> None:
    raw = redacted_item_bytes({"customer": {"id": 1, "email": "x@example.nl"}, "item": item})
    assert b"x@example.nl" not in raw
    json.loads(raw)


# -- the poller ------------------------------------------------------------------------
DEEP = b"[" * 100_000 + b"]" * 100_000
BODIES = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([DEEP, b'{"nextid": "9", "results": [' + DEEP + b"]}", b"NaN", b"1" * 5000,
                     b'{"nextid": "9", "results": [{"id": 1, "type": "x", "ts": "' + b"9" * 5000 + b'"}]}',
                     b'{"nextid": "9", "moreresults": true, "results": ["\\ud800"]}']),
    st.builds(lambda items, nextid, more: json.dumps(
        {"nextid": nextid, "moreresults": more, "results": items}, allow_nan=True).encode(),
        st.lists(st.one_of(ITEMS, JSON), max_size=4), st.one_of(st.just("9"), HOSTILE),
        st.one_of(st.booleans(), HOSTILE)),
)


def _source(body: bytes) -> EventstreamSource:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Type": "application/json"})

    client = EventstreamClient("http://ticketmatic.test/api/1", "acme",
                               client=httpx.Client(transport=httpx.MockTransport(answer)))
    return EventstreamSource(client, env())


@PROFILE
@given(BODIES)
def test_any_page_body_becomes_facts_and_dead_letters_or_a_retry(body: bytes) -> None:
    """What the runner catches (``RetriableError``: it backs off and asks for the same
    cursor) is the only exception allowed out of ``poll``."""
    source = _source(body)
    try:
        result = source.poll({"id": "1"})
    except RetriableError:
        return
    for item in result.items:
        if isinstance(item, SourceRecord):
            encode(item.value)
        else:
            assert isinstance(item, DeadLetter)
            assert isinstance(item.raw, bytes) and isinstance(item.error, MappingError)
            assert item.error.field
    assert isinstance(result.position["id"], str)
    assert result.source_time is None or result.source_time.tzinfo is UTC or result.source_time.utcoffset()


# -- the event-time window ---------------------------------------------------------------
WINDOW = EventTimeWindow(datetime(2000, 1, 1, tzinfo=UTC), timedelta(days=1))


@PROFILE
@given(ITEMS)
@example({"id": 1, "type": "order:confirmed", "ts": "1999-12-31T23:59:59Z",
          "data": {"orderid": 1, "tickets": [{"id": 1, "eventid": 2, "price": "25"}]}})
@example({"id": 1, "type": "accesscontrol:scan", "ts": "2025-02-03T14:30:00Z",
          "data": {"id": 1, "eventid": 2, "orderid": 3, "accesscontrolstatus": 1,
                   "accesscontrollastenteredts": "2999-01-01T00:00:00"}})
def test_a_fact_dated_outside_the_event_time_window_is_refused_naming_the_items_time_field(
        item: dict[str, Any]) -> None:
    """The dead letter then holds the item as it came (the publisher's safety net only
    has the fact)."""
    e = env()
    e.window = WINDOW
    try:
        mapped = map_item(item, e)
    except MappingError as exc:
        assert exc.field
        if "outside the accepted window" in str(exc):
            assert exc.field in ("ts", "data.accesscontrollastenteredts")
        return
    for record in mapped.records:
        WINDOW.check(record.value.event_time, "event_time")  # type: ignore[attr-defined]

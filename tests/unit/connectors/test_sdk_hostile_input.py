"""The connector SDK's defences every receiver and poller share: JSON that cannot hurt,
an event-time window, and dead-letter masking in linear time."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bus.settings import ConnectorSettings
from connectors.sdk.dlq import scrub
from connectors.sdk.errors import MappingError
from connectors.sdk.jsonbody import MAX_DEPTH, BadJson, load_json
from connectors.sdk.records import SourceRecord
from connectors.sdk.window import EventTimeWindow
from schemas.models import TicketEvent, TicketEventType

MIB = 1024 * 1024


@pytest.mark.parametrize(("raw", "says"), [
    (b"[" * 10_000 + b"]" * 10_000, "nested"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested"),
    (b'{"price": ' + b"9" * 5000 + b"}", "digits"),
    (b'{"price": NaN}', "NaN"),
    (b'{"price": 1e999}', "too large"),
    (b'{"a": \xff}', "UTF-8"),
    (b'{"a": ', "line 1 column 7"),
])
def test_hostile_json_is_a_clear_400_naming_the_body(raw: bytes, says: str) -> None:
    with pytest.raises(BadJson, match=says) as caught:
        load_json(raw)
    assert caught.value.status == 400
    assert caught.value.field == "body"


def test_a_lone_surrogate_is_a_clear_400_for_a_receiver_but_read_for_a_poller() -> None:
    raw = b'{"tickets": [{"name": "Regulier \\udc00"}]}'
    with pytest.raises(BadJson, match="surrogate") as caught:
        load_json(raw, text_only=True)
    assert (caught.value.status, caught.value.field) == (400, "body")
    assert load_json(b'{"name": "\\ud83c\\udfad"}', text_only=True) == {"name": "\U0001f3ad"}
    # a poller names the field of the one item that holds it, and goes on with the rest
    assert load_json(raw)["tickets"][0]["name"] == "Regulier \udc00"


def test_json_nested_as_deep_as_allowed_is_read() -> None:
    assert load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None


def _depth(value: object) -> int:
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        return 0
    return 1 + max((_depth(v) for v in value), default=0)


_JSON = st.recursive(st.none() | st.integers() | st.text(alphabet="[]{}\"a,"),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(alphabet="[{a", max_size=3), inner, max_size=3),
                     max_leaves=20)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_JSON, st.integers(min_value=1, max_value=6))
def test_a_body_is_refused_as_nested_exactly_when_it_nests_deeper_than_allowed(
        value: object, limit: int) -> None:
    """Brackets inside strings count towards the quick pre-check, never towards depth."""
    raw = json.dumps(value).encode()
    if _depth(value) > limit:
        with pytest.raises(BadJson, match="nested"):
            load_json(raw, max_depth=limit)
    else:
        assert load_json(raw, max_depth=limit) == value


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.binary(max_size=2000))
def test_any_bytes_are_json_or_bad_json_never_another_error(raw: bytes) -> None:
    try:
        load_json(raw)
    except BadJson:
        pass


def _fact(when: datetime) -> SourceRecord:
    return SourceRecord("ticketing.events", "k", TicketEvent(
        fact_id="f", event_time=when, ingested_at=datetime.now(UTC), source_system="eventix",
        source_account="a", performance_key="k", event_type=TicketEventType.SOLD, quantity=1))


def test_the_window_refuses_a_sale_dated_before_2000_or_days_ahead_and_names_the_setting() -> None:
    window = EventTimeWindow.from_settings(ConnectorSettings())
    window.check(datetime.now(UTC), "time")
    window.check(datetime.now(UTC) + timedelta(hours=23), "time")
    for when in (datetime(1999, 12, 31, tzinfo=UTC), datetime.now(UTC) + timedelta(days=2),
                 datetime.fromisoformat("9999-12-31T23:59:59-12:00")):
        with pytest.raises(MappingError, match="EVENT_TIME") as caught:
            window.check(when, "order.tickets[0].scanned_at")
        assert caught.value.field == "order.tickets[0].scanned_at"


def test_the_window_is_configurable() -> None:
    window = EventTimeWindow.from_settings(ConnectorSettings(
        event_time_earliest=datetime(1990, 1, 1, tzinfo=UTC), event_time_max_ahead_s=0))
    window.check(datetime(1995, 1, 1, tzinfo=UTC), "time")
    with pytest.raises(MappingError):
        window.check(datetime.now(UTC) + timedelta(minutes=5), "time")


def test_check_records_names_the_first_fact_outside() -> None:
    window = EventTimeWindow.from_settings(ConnectorSettings())
    with pytest.raises(MappingError) as caught:
        window.check_records([_fact(datetime.now(UTC)), _fact(datetime(1980, 1, 1, tzinfo=UTC))])
    assert caught.value.field == "records[1].event_time"


# A bound of seconds here guards a blocking bug (quadratic backtracking took 18.8 s for
# 120 KB and minutes for 1 MiB), not speed: linear masking takes well under 0.1 s a MiB
# on a quiet machine; the bound is loose for a busy 2-core CI.
@pytest.mark.parametrize("body", [
    b"a" * MIB,                              # a run of one letter: what blocked the receivers
    b'{"note": "' + b"a" * MIB + b'"}',
    b"(0-" * (MIB // 3),                     # phone-number starts everywhere
    b"a@" * (MIB // 2),
    b'{"email": "' + b'\\"' * (MIB // 2),  # an escaped value that never ends
], ids=["letters", "json-letters", "phone-starts", "at-signs", "open-escapes"])
def test_masking_a_hostile_mebibyte_takes_well_under_a_second(body: bytes) -> None:
    t0 = time.monotonic()
    scrub(body)
    assert time.monotonic() - t0 < 2.0


def test_masking_still_finds_e_mail_and_phone_in_text_and_personal_fields() -> None:
    out, redacted = scrub(b'{"note": "call 06-12345678 or mail jan@example.nl", '
                          b'"customer": {"name": "Jan", "E-Mail": "x"}}')
    assert redacted
    assert b"jan@example.nl" not in out and b"12345678" not in out and b"Jan" not in out
    cut, _ = scrub(b'garbage{"Email": "jan@example.nl", "phone_number": "0612')
    assert b"jan@" not in cut and b"0612" not in cut


def test_a_truncated_body_keeps_no_buyers_postcode_or_name_in_its_dead_letter() -> None:
    body = (b'{"order": {"customer": {"firstname": "Annelies", "name": "Annelies Verhoeven", '
            b'"postcode": "3511 NK", "zip_code": "1015 DZ", "city": "Utrecht"}, "events": [{"na')
    masked, redacted = scrub(body)
    assert redacted
    for personal in (b"Annelies", b"Verhoeven", b"3511 NK", b"1015 DZ"):
        assert personal not in masked
    assert b'"city": "Utrecht"' in masked  # a city alone singles nobody out

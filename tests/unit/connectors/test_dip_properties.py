"""Properties of the DIP receiver's input handling, for any input a sender can make.

``parse_body`` gives a validated body or a ``MappingError`` naming a field, never another
exception; ``DipReceiver.handle`` answers 200, 400 or 422 (never a 500), and every 200
published a snapshot the contract's Avro schema encodes, also after a run of calls that
merge into one performance.

Hypothesis: ``deadline=None`` (the machine is shared), 200 examples a property (100 for
runs of calls), derandomized when ``CI`` is set so a CI failure replays locally.
"""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import fastavro
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connectors.sdk.errors import MappingError
from connectors.ticketing.dip import DipReceiver, SnapshotBook
from connectors.ticketing.dip.payloads import CENTS_MAX, INT_MAX, LONG_MAX, PARTS, SEATS_MAX, parse_body
from schemas.models import SalesSnapshot
from schemas.registry import load_schema
from tests.support.recording import RecordingPublisher, dip_context

PROPERTY = settings(deadline=None, max_examples=200, derandomize=bool(os.environ.get("CI")),
                    suppress_health_check=[HealthCheck.too_slow])
RUNS = settings(PROPERTY, max_examples=100)
SCHEMA = fastavro.parse_schema(load_schema("sales_snapshot.avsc"))

parts = st.sampled_from(sorted(PARTS))
any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20)
# Numbers where the edges are: the bounds of a field, of Avro int and long, and past them.
numbers = st.one_of(
    st.integers(min_value=0, max_value=1000),
    st.sampled_from([-1, 0, SEATS_MAX, SEATS_MAX + 1, INT_MAX, INT_MAX + 1, CENTS_MAX, CENTS_MAX + 1,
                     LONG_MAX, LONG_MAX + 1, 10**30]),
    st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(), st.text(max_size=5)))
offsets = st.builds(timezone, st.timedeltas(min_value=-timedelta(hours=23, minutes=59),
                                            max_value=timedelta(hours=23, minutes=59)))
_NOW = datetime.now(UTC).replace(tzinfo=None)  # hypothesis bounds are naive (wall time)
recent = st.datetimes(min_value=datetime(1999, 12, 31, tzinfo=UTC).replace(tzinfo=None),
                      max_value=_NOW + timedelta(days=2), timezones=offsets)
edge_times = st.sampled_from(["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00",
                              "1999-12-31T23:59:59.999Z", "2999-12-31T23:59:59Z", "2025-02-01T10:00:00",
                              "2025-02-01 10:00:00+01:00", "2025-02-01T10:00:00+01:00\n"])
times = st.one_of(recent.map(datetime.isoformat), edge_times, st.one_of(
    st.datetimes(timezones=offsets).map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat), st.text(max_size=30), numbers))
line = st.fixed_dictionaries({}, optional={"tickets": numbers, "recette": numbers})
maybe_updated = st.fixed_dictionaries({}, optional={"updated": times})
bodies: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "tickets": st.fixed_dictionaries({}, optional={t: line | numbers for t in
                                                   ("normal", "discount", "free", "other")}),
    "reservations": st.fixed_dictionaries({}, optional={"reservations": numbers, "value": numbers}),
    "blocked-seats": st.fixed_dictionaries({}, optional={"blockedSeats": numbers, "value": numbers}),
    "capacity": st.fixed_dictionaries({}, optional={"capacity": numbers}),
}


@st.composite
def near_valid(draw: st.DrawFn, part: str | None = None) -> tuple[str, bytes]:
    """A call shaped like a real one, with values at and past every edge."""
    part = part or draw(parts)
    body = {**draw(bodies[part]), **draw(maybe_updated)}
    return part, json.dumps(body).encode()


def _parses_or_names_a_field(part: str, raw: bytes) -> None:
    try:
        body = parse_body(part, raw)
    except MappingError as exc:  # BadJson is one too
        assert exc.field, f"no field named for {raw[:80]!r}: {exc}"
    else:
        assert isinstance(body, PARTS[part])


hostile_bytes = st.one_of(
    st.binary(max_size=300),
    st.integers(min_value=1, max_value=20_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=6_000).map(lambda n: b'{"capacity": ' + b"9" * n + b"}"))


@PROPERTY
@given(parts, hostile_bytes)
def test_any_bytes_parse_or_fail_with_a_named_field(part: str, raw: bytes) -> None:
    _parses_or_names_a_field(part, raw)


@PROPERTY
@given(parts, any_json)
def test_any_json_parses_or_fails_with_a_named_field(part: str, value: Any) -> None:
    _parses_or_names_a_field(part, json.dumps(value).encode())


@PROPERTY
@given(near_valid())
def test_a_call_near_the_edges_parses_within_the_contract_or_names_a_field(
        call: tuple[str, bytes]) -> None:
    _parses_or_names_a_field(*call)


def _encode(snapshot: SalesSnapshot) -> None:
    fastavro.schemaless_writer(io.BytesIO(), SCHEMA, snapshot.to_avro())


def _receiver() -> tuple[DipReceiver, RecordingPublisher]:
    publisher = RecordingPublisher()
    return DipReceiver(dip_context(publisher), "t", SnapshotBook(None)), publisher


def _check(answer_status: int, body: dict[str, Any], publisher: RecordingPublisher,
           published_before: int) -> None:
    event(f"status {answer_status}")
    assert answer_status in (200, 400, 422), body
    if answer_status == 200:
        assert len(publisher.snapshots()) == published_before + 1
        snapshot = publisher.snapshots()[-1]
        _encode(snapshot)  # acknowledged means the contract carries it ...
        held = (sum(line.tickets for line in snapshot.lines) + snapshot.reservations
                + snapshot.blocked_seats)
        assert held <= INT_MAX  # ... and the seats downstream adds up (availability: int)
        assert datetime(2000, 1, 1, tzinfo=UTC) <= snapshot.event_time
        assert snapshot.event_time <= datetime.now(UTC) + timedelta(days=1)
    else:
        assert body["field"] and len(publisher.snapshots()) == published_before


@PROPERTY
@given(parts, hostile_bytes | any_json.map(lambda v: json.dumps(v).encode()))
def test_the_receiver_answers_any_body_with_200_400_or_422(part: str, raw: bytes) -> None:
    receiver, publisher = _receiver()
    answer = receiver.handle(part, "NL-23-1234-5", "3", raw)
    _check(answer.status, answer.body, publisher, 0)


@PROPERTY
@given(near_valid())
def test_a_call_near_the_edges_is_answered_200_within_the_contract_or_400_422(
        call: tuple[str, bytes]) -> None:
    receiver, publisher = _receiver()
    answer = receiver.handle(call[0], "NL-23-1234-5", "3", call[1])
    _check(answer.status, answer.body, publisher, 0)


@RUNS
@given(st.lists(near_valid(), min_size=1, max_size=8))
def test_every_200_of_a_run_of_calls_is_a_snapshot_the_contract_encodes(
        calls: list[tuple[str, bytes]]) -> None:
    receiver, publisher = _receiver()
    for part, raw in calls:
        before = len(publisher.snapshots())
        answer = receiver.handle(part, "NL-23-1234-5", "3", raw)
        _check(answer.status, answer.body, publisher, before)

"""Any string for any query parameter of the gateway: 200 or a clear 400 JSON that names
the parameter, never a 500 (issue #12 item 7: ``/v1/availability?to=9999-12-31`` was a
plain-text 500)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sinks.gateway.app import GatewayParts, create_app
from sinks.gateway.view import View
from tests.support.gateway import gateway_parts

settings.register_profile(
    "gateway-properties", deadline=None, max_examples=200, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
PROFILE = settings.get_profile("gateway-properties")

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
EDGES = ["9999-12-31", "0001-01-01", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
         "9999-12-31T23:59:59.999999", "2025-06-01T25:00", "today", "tomorrow", "TODAY,tomorrow",
         "-1", "0", "1000", "1001", "99999999999999999999999", "1e3", "1.5", " 5 ", "", " ", ",",
         "LIMITED,available", "availability,lastminute", "sales", "1" * 5000, "\x00", "2025-W22-1"]
TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
VALUE = st.one_of(TEXT, st.sampled_from(EDGES), st.integers().map(str), st.dates().map(str),
                  # hypothesis wants naive bounds; the zones come from `timezones`
                  st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),  # noqa: DTZ001
                               timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)),
                                                          timezone(-timedelta(hours=12))])).map(
                      lambda d: d.isoformat()),
                  st.lists(st.sampled_from(EDGES), min_size=1, max_size=3).map(",".join))


def parts(ready: bool) -> GatewayParts:
    p = gateway_parts(View(100, seq_base=0), NOW, ready=ready)
    for i, hours in enumerate((-30, 2, 20, 200)):
        start = NOW + timedelta(hours=hours)
        rec = {"performance_id": f"dip|P{i}|1", "capacity": 10, "remaining": i, "status": "LIMITED",
               "city": "Utrecht", "region": "Utrecht", "genre": "Toneel", "start": start,
               "updated_at": NOW, "version": 1}
        p.view.apply_availability(rec["performance_id"], rec)
        p.view.apply_lastminute(rec["performance_id"], rec)
    return p


@pytest.fixture(scope="module")
def ready() -> Iterator[TestClient]:
    with TestClient(create_app(parts(True)), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def loading() -> Iterator[TestClient]:
    """Not ready: the stream answers 503 after checking its parameters, instead of streaming."""
    with TestClient(create_app(parts(False)), raise_server_exceptions=False) as c:
        yield c


def check(r: Any, sent: dict[str, str], ok: int) -> None:
    assert r.status_code in (ok, 400), (r.status_code, sent, r.text)
    assert r.headers["content-type"].startswith("application/json"), (sent, r.text)
    body = r.json()
    if r.status_code == 400:
        assert body["error"] == "bad_parameter" and body["parameter"] in sent, (sent, body)
        assert body["message"].startswith(body["parameter"]), body


def params(*names: str) -> st.SearchStrategy[dict[str, str]]:
    return st.fixed_dictionaries({}, optional=dict.fromkeys(names, VALUE))


@PROFILE
@given(params("status", "region", "city", "genre", "from", "to", "limit"))
def test_any_availability_query_is_200_or_a_400_naming_the_parameter(
        ready: TestClient, query: dict[str, str]) -> None:
    check(ready.get("/v1/availability", params=query), query, 200)


@PROFILE
@given(params("region", "city", "genre", "date", "min_remaining", "limit"))
def test_any_lastminute_query_is_200_or_a_400_naming_the_parameter(
        ready: TestClient, query: dict[str, str]) -> None:
    check(ready.get("/v1/lastminute", params=query), query, 200)


HEADER = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


@PROFILE
@given(params("topics", "performance_id", "region", "last_event_id"), st.none() | HEADER)
def test_any_stream_query_is_checked_before_streaming(
        loading: TestClient, query: dict[str, str], header: str | None) -> None:
    headers = {} if header is None else {"Last-Event-ID": header}
    sent = {**query, **({"Last-Event-ID": header} if header and header.strip() else {})}
    check(loading.get("/v1/stream", params=query, headers=headers), sent, 503)


def test_the_documented_years_are_the_years_the_contract_carries() -> None:
    import re

    from schemas.models import TIMESTAMP_MAX, TIMESTAMP_MIN
    from sinks.gateway.openapi import YEARS_PATTERN

    ok = [y for y in range(1000, 10000) if re.match(YEARS_PATTERN, f"{y}-01-01")]
    assert (ok[0], ok[-1], len(ok)) == (TIMESTAMP_MIN.year, TIMESTAMP_MAX.year,
                                        TIMESTAMP_MAX.year - TIMESTAMP_MIN.year + 1)


def test_a_date_outside_what_the_bus_carries_is_a_400_naming_the_parameter(ready: TestClient) -> None:
    for params in ({"to": "9999-12-31"}, {"from": "0001-01-01"}, {"from": "9999-12-31T23:59:59-12:00"}):
        r = ready.get("/v1/availability", params=params)
        assert r.status_code == 400, r.text
        body = r.json()
        assert next(iter(params)) in str(body) and "outside the dates" in str(body)
    assert ready.get("/v1/availability", params={"to": "2298-12-31"}).json()["total"] == 4


def test_an_unexpected_failure_is_a_json_500_not_plain_text() -> None:
    p = parts(True)

    def broken(*_: Any) -> Any:
        raise OverflowError("date value out of range")

    p.view.query_availability = broken  # type: ignore[method-assign]
    with TestClient(create_app(p), raise_server_exceptions=False) as c:
        r = c.get("/v1/availability")
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["error"] == "internal"

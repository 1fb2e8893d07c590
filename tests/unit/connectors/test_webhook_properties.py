"""Properties of the webhook mappings and the receiver under arbitrary input (Hypothesis).

For every vendor: any JSON (valid deliveries with arbitrary parts replaced or removed),
any bytes and any headers yield a list of facts, or a ``MappingError`` (``BadJson``
included) that names a field; never another exception. At the receiver (publisher
recorded): never a 5xx, and never a 200 whose facts the contract cannot carry: every
acknowledged fact is encoded with fastavro against its topic's schema, read back, and
range-checked as every role does.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import fastavro
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bus.codec import without_logical_types
from bus.ranges import contract_check
from bus.settings import Settings
from bus.topics import spec
from connectors.fakes import webhooks as wh
from connectors.fakes.webhooks import FakeEventbriteApi
from connectors.sdk.errors import MappingError
from connectors.sdk.jsonbody import load_json
from connectors.sdk.privacy import Pseudonymiser
from connectors.sdk.records import SourceRecord
from connectors.sdk.window import EventTimeWindow
from connectors.ticketing.webhook import WebhookSettings, create_app, sign
from connectors.ticketing.webhook.eventbrite import map_eventbrite
from connectors.ticketing.webhook.eventix import TRIGGERS, map_eventix
from connectors.ticketing.webhook.facts import FACT_NAMESPACE, Delivery, Mapped, MappingEnv, fact_id
from connectors.ticketing.webhook.fetch import EventbriteClient
from connectors.ticketing.webhook.stager import map_stager
from connectors.ticketing.webhook.tickettypes import TicketTypeMapper
from schemas import load_schema
from tests.support.recording import recording_context

#: The profile of every property here: no deadline (the machine is shared and busy),
#: a bounded number of examples, and derandomised so CI runs the same examples.
PROPS = settings(deadline=None, max_examples=200, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.function_scoped_fixture])
SECRET = "prop-secret-0123456789"
API_HOST = "api.example.test"
WINDOW = EventTimeWindow.from_settings(Settings().connector)
ENV = MappingEnv(WebhookSettings(secrets={"eventix": SECRET},
                                 eventbrite_api_hosts=(API_HOST,)),
                 Pseudonymiser(SecretStr("k" * 32)), TicketTypeMapper(), WINDOW)
DELETE = object()

# -- strategies ---------------------------------------------------------------------------
_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=-12)), timezone(timedelta(hours=14)),
                          timezone(timedelta(hours=1))])
TIMES = st.one_of(
    # hypothesis takes naive bounds and attaches the zones itself
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),  # noqa: DTZ001
                 timezones=_ZONES).map(lambda d: d.isoformat()),
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 1, 1)).map(  # noqa: DTZ001
        lambda d: d.isoformat()),  # naive: no offset, which vendors must send
    st.sampled_from(["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00",
                     "2999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2025-03-01T19:02:11+01:00",
                     "2025-13-40T99:99:99Z", ""]))
TEXT = st.one_of(st.text(max_size=12), st.sampled_from(
    ["Regulier", "EUR", "euro", "NL-23-1234-5|3", "NL-23-1234-5|" + "9" * 5000, "order",
     "ticket", "9" * 30, "1e400", "-0", "NaN", "Infinity", "ß" * 3, "\x00"]))
NUMBERS = st.one_of(st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
                    st.sampled_from([2**31, 2**31 - 1, 2**63, 2**63 - 1, 2**70, -1, 0, 10**6]),
                    st.floats(allow_nan=False, allow_infinity=False))
LEAVES = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT, TIMES)
JSON = st.recursive(LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)), max_leaves=6)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return None if value is DELETE else value
    head, rest = path[0], path[1:]
    if rest:
        obj[head] = _replace(obj[head], rest, value)
    elif value is DELETE:
        del obj[head]
    else:
        obj[head] = value
    return obj


def _at(obj: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        obj = obj[part]
    return obj


def _like(value: Any) -> st.SearchStrategy[Any]:
    """Values of the same kind as ``value`` (so more mutants get past the vendor models
    and reach the contract): numbers for numbers, times for times, text for text."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers() | NUMBERS
    if isinstance(value, str) and len(value) > 18 and value[4:5] == "-" and value[10:11] == "T":
        return TIMES
    if isinstance(value, str):
        return TEXT
    return JSON


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with up to four parts replaced (by a value of the same kind, or arbitrary
    JSON) or removed."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 4))):
        path = draw(st.sampled_from(_paths(doc)))
        value = draw(st.one_of(_like(_at(doc, path)), _like(_at(doc, path)), JSON,
                               st.just(DELETE)))
        doc = _replace(doc, path, value)
    return doc


def _eventix_base() -> dict[str, Any]:
    order = wh.eventix_order()
    order["tickets"][0]["scanned_at"] = "2025-03-01T20:15:00+01:00"
    return json.loads(wh.eventix_delivery("acme", SECRET, "order.paid", order).body)


def _stager_base() -> dict[str, Any]:
    return json.loads(wh.stager_delivery("acme", SECRET, dip_id="NL-23-1234-5|3").body)


def _eventbrite_order() -> dict[str, Any]:
    return wh.eventbrite_order(order_id="o1", event_id="e1", attendees=[
        wh.eventbrite_attendee(attendee_id="a1", event_id="e1", order_id="o1", refunded=True,
                            changed="2025-03-06T08:00:00Z"),
        wh.eventbrite_attendee(attendee_id="a2", event_id="e1", order_id="o1", checked_in=True)])


HEADERS = st.dictionaries(st.sampled_from(["openticket-dedupe-key", "openticket-identifier",
                                           "x-other"]), TEXT, max_size=2)
TRIGGER = st.one_of(st.sampled_from(sorted(TRIGGERS)), st.sampled_from(sorted(TRIGGERS)),
                    st.sampled_from(sorted(TRIGGERS)), TEXT)


# -- the outcome every mapping must have ------------------------------------------------------
def _encodes(record: SourceRecord) -> None:
    """What a role reading the topic needs: fastavro writes it, reads it back (datetimes),
    and every int, long and timestamp is within the contract's ranges."""
    schema = load_schema(spec(record.topic).value_schema)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), record.value.to_avro())
    fastavro.schemaless_reader(io.BytesIO(buf.getvalue()), fastavro.parse_schema(schema))
    raw = fastavro.schemaless_reader(io.BytesIO(buf.getvalue()),
                                     fastavro.parse_schema(without_logical_types(schema)))
    contract_check(schema)(raw)  # type: ignore[arg-type]


def _facts_or_named_error(run: Any) -> None:
    try:
        mapped: Mapped = run()
    except MappingError as exc:
        assert exc.field, f"{type(exc).__name__} without a field: {exc}"
        return
    assert mapped.records and mapped.delivery_key
    WINDOW.check_records(mapped.records)
    for record in mapped.records:
        _encodes(record)


def _delivery(vendor: str, body: bytes, headers: dict[str, str]) -> Delivery:
    return Delivery(vendor, "acme", headers, body, datetime.now(UTC), "r-1")


# -- mappings -----------------------------------------------------------------------------------
@PROPS
@given(payload=mutated(_eventix_base()), trigger=TRIGGER, headers=HEADERS,
       alias=st.one_of(st.none(), st.none(), st.none(), TRIGGER))
def test_any_eventix_json_and_headers_map_to_facts_or_a_named_error(
        payload: Any, trigger: str, headers: dict[str, str], alias: str | None) -> None:
    body = json.dumps(payload).encode()
    if alias is not None:
        headers = {**headers, "x-eventix-trigger": alias}
    d = _delivery("eventix", body, {**headers, "openticket-trigger": trigger})
    _facts_or_named_error(lambda: map_eventix(d, load_json(body, text_only=True), ENV))


@PROPS
@given(payload=mutated(_stager_base()), headers=HEADERS)
def test_any_stager_json_maps_to_a_snapshot_or_a_named_error(
        payload: Any, headers: dict[str, str]) -> None:
    body = json.dumps(payload).encode()
    d = _delivery("stager", body, headers)
    _facts_or_named_error(lambda: map_stager(d, load_json(body, text_only=True), ENV))


class _FakeFetch(EventbriteClient):
    """The real URL check; ``get`` answers the resource the test drew."""

    def __init__(self, resource: Any) -> None:
        super().__init__(ENV.settings)
        self.resource = resource

    async def get(self, url: Any, account: str, expand: str | None = None) -> Any:
        return self.resource


@PROPS
@given(data=st.data(), action=st.sampled_from(["order.placed", "order.updated",
                                               "order.refunded", "attendee.checked_in",
                                               "event.updated", "order.exploded"]))
def test_any_eventbrite_delivery_and_fetched_resource_map_to_facts_or_a_named_error(
        data: st.DataObject, action: str) -> None:
    base = (wh.eventbrite_event(event_id="e1") if action == "event.updated"
            else _eventbrite_order()["attendees"][1] if action == "attendee.checked_in"
            else _eventbrite_order())
    resource = data.draw(mutated(base))
    envelope = data.draw(mutated(json.loads(wh.eventbrite_delivery(
        "acme", SECRET, action, f"https://{API_HOST}/v3/x/1/").body)))
    body = json.dumps(envelope).encode()
    d = _delivery("eventbrite", body, {})

    async def run() -> Mapped:
        client = _FakeFetch(resource)
        try:
            return await map_eventbrite(d, load_json(body, text_only=True), ENV, client)
        finally:
            await client.aclose()

    _facts_or_named_error(lambda: asyncio.run(run()))


@PROPS
@given(body=st.one_of(st.binary(max_size=200),
                      st.builds(lambda b, cut, junk: b[:cut] + junk + b[cut:],
                                st.just(json.dumps(_eventix_base()).encode()),
                                st.integers(0, 2000), st.binary(max_size=8))),
       vendor=st.sampled_from(["eventix", "stager"]))
def test_any_bytes_are_facts_or_a_named_error(body: bytes, vendor: str) -> None:
    d = _delivery(vendor, body, {"openticket-trigger": "order.paid"})
    mapper = map_eventix if vendor == "eventix" else map_stager
    _facts_or_named_error(lambda: mapper(d, load_json(body, text_only=True), ENV))


# -- the receiver ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def api() -> Iterator[FakeEventbriteApi]:
    with FakeEventbriteApi() as fake:
        yield fake


@PROPS
@given(data=st.data(), vendor=st.sampled_from(["eventix", "stager", "eventbrite"]))
def test_the_receiver_never_answers_5xx_nor_acknowledges_a_fact_the_contract_cannot_carry(
        api: FakeEventbriteApi, data: st.DataObject, vendor: str) -> None:
    ctx, publisher = recording_context(Settings())
    app = create_app(ctx, WebhookSettings(
        secrets={vendor: SECRET}, eventbrite_tokens={"*": api.token},
        eventbrite_api_hosts=(api.host,), fetch_attempts=1))
    trigger = None
    if vendor == "eventix":
        payload = data.draw(mutated(_eventix_base()))
        trigger = data.draw(TRIGGER.filter(lambda t: t.isascii() and t.isprintable()))
        trigger = trigger.strip() or "order.paid"
        path, headers = "/webhooks/eventix/acme", {"OpenTicket-Trigger": trigger}
    elif vendor == "stager":
        payload = data.draw(mutated(_stager_base()))
        path, headers = "/webhooks/stager/acme", {}
    else:
        action = data.draw(st.sampled_from(["order.placed", "event.updated"]))
        base = _eventbrite_order() if action == "order.placed" else wh.eventbrite_event(event_id="e1")
        # the resource stays an object: anything else is the API failing (503, redeliver)
        resource = data.draw(mutated(base).filter(lambda r: isinstance(r, dict)))
        url = api.put(f"{action}/1", resource)
        payload = data.draw(mutated(json.loads(wh.eventbrite_delivery(
            "acme", SECRET, action, url).body)))
        path, headers = "/webhooks/eventbrite/acme", {}
    body = json.dumps(payload).encode()
    headers["X-Signature"] = sign(SECRET, body, trigger=trigger)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://receiver") as c:
            return await c.post(path, content=body, headers=headers)

    resp = asyncio.run(go())
    assert resp.status_code in (200, 400, 422), resp.text
    if resp.status_code == 200 and resp.json()["status"] == "accepted":
        assert publisher.dead_letters == []
        assert [r.value.fact_id for r in publisher.records] == resp.json()["fact_ids"]
        WINDOW.check_records(publisher.records)
        for record in publisher.records:
            _encodes(record)
    else:
        assert publisher.records == [] and len(publisher.dead_letters) == 1
        assert resp.json()["field"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(st.text() | st.integers(), min_size=1, max_size=4))
def test_a_fact_id_is_the_uuid5_of_its_parts_as_it_always_was(parts: list[Any]) -> None:
    """Fact ids are fixed forever: a replay months later must give the same id."""
    name = "\x1f".join(str(p) for p in parts)
    try:
        expected = str(uuid.uuid5(FACT_NAMESPACE, name))
    except UnicodeEncodeError:  # a lone surrogate: neither can spell it
        with pytest.raises(UnicodeEncodeError):
            fact_id(*parts)
        return
    assert fact_id(*parts) == expected

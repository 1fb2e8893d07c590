"""The DIP-compatible receiver over HTTP, with Kafka played by a recording publisher."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from bus.topics import SNAPSHOTS
from connectors.sdk.records import SourceRecord
from connectors.ticketing.dip import DipReceiver, SnapshotBook, create_app
from schemas.models import SalesSnapshot, TicketType
from tests.support.recording import RecordingPublisher, dip_context

BASE = "/productions/NL-23-1234-5/performances/3"


def _ctx(publisher: RecordingPublisher) -> Any:
    return dip_context(publisher)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def client(publisher: RecordingPublisher) -> TestClient:
    receiver = DipReceiver(_ctx(publisher), "theater-utrecht", SnapshotBook(None))
    return TestClient(create_app(receiver))


TICKETS = {"normal": {"tickets": 120, "recette": 360000}, "discount": {"tickets": 30, "recette": 60000},
           "free": {"tickets": 4, "recette": 0}, "updated": "2025-02-01T10:00:00+01:00"}


def test_a_tickets_call_publishes_a_snapshot_keyed_by_the_dip_performance(
        client: TestClient, publisher: RecordingPublisher) -> None:
    resp = client.put(f"{BASE}/tickets/cumulative", json=TICKETS)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted"
    [record] = [i for i in publisher.items if isinstance(i, SourceRecord)]
    assert record.topic == SNAPSHOTS and record.key == "dip|NL-23-1234-5|00003"
    snap = record.value
    assert isinstance(snap, SalesSnapshot)
    lines = {line.ticket_type: (line.tickets, line.revenue_cents) for line in snap.lines}
    assert lines == {TicketType.NORMAL: (120, 360000), TicketType.DISCOUNT: (30, 60000),
                     TicketType.FREE: (4, 0), TicketType.OTHER: (0, 0)}
    assert snap.performance_key == "dip|NL-23-1234-5|00003"
    assert snap.source_account == "theater-utrecht"
    assert snap.event_time.isoformat() == "2025-02-01T09:00:00+00:00"


def test_a_later_call_carries_the_parts_seen_before(client: TestClient,
                                                   publisher: RecordingPublisher) -> None:
    client.put(f"{BASE}/tickets/cumulative", json=TICKETS)
    client.put(f"{BASE}/capacity", json={"capacity": 850})
    resp = client.put(f"{BASE}/reservations/cumulative", json={"reservations": 12, "value": 36000})
    assert resp.status_code == 200
    client.put(f"{BASE}/blocked-seats/cumulative", json={"blockedSeats": 6, "value": 0})
    last = publisher.snapshots()[-1]
    assert last.capacity == 850
    assert (last.reservations, last.reservations_value_cents) == (12, 36000)
    assert last.blocked_seats == 6
    assert sum(line.tickets for line in last.lines) == 154
    assert resp.json()["tickets"]["normal"] == {"tickets": 120, "recette": 360000}


def test_a_snapshot_going_backwards_is_accepted_as_a_refund(client: TestClient,
                                                           publisher: RecordingPublisher) -> None:
    client.put(f"{BASE}/tickets/cumulative", json=TICKETS)
    fewer = {"normal": {"tickets": 118, "recette": 354000}}
    resp = client.put(f"{BASE}/tickets/cumulative", json=fewer)
    assert resp.status_code == 200
    normal = [line for line in publisher.snapshots()[-1].lines if line.ticket_type == TicketType.NORMAL]
    assert normal[0].tickets == 118


def test_a_performance_never_reported_has_no_ticket_lines(client: TestClient,
                                                         publisher: RecordingPublisher) -> None:
    client.put(f"{BASE}/capacity", json={"capacity": 400})
    snap = publisher.snapshots()[0]
    assert snap.lines == [] and snap.capacity == 400


@pytest.mark.parametrize(("path", "body", "field"), [
    ("tickets/cumulative", {"normal": {"tickets": -3, "recette": 0}}, "normal.tickets"),
    ("tickets/cumulative", {"normal": {"tickets": 3, "recette": 12.5}}, "normal.recette"),
    ("tickets/cumulative", {"normal": {"recette": 100}}, "normal.tickets"),
    ("tickets/cumulative", {"vip": {"tickets": 3}}, "body"),
    ("tickets/cumulative", {"normal": {"tickets": 3}, "updated": "2025-02-01 10:00"}, "updated"),
    ("reservations/cumulative", {"value": 10}, "reservations"),
    ("blocked-seats/cumulative", {"blockedSeats": "four"}, "blockedSeats"),
    ("capacity", {"capacity": -1}, "capacity"),
])
def test_bad_input_is_422_naming_the_field_and_dead_lettered(
        client: TestClient, publisher: RecordingPublisher, path: str, body: dict, field: str) -> None:
    resp = client.put(f"{BASE}/{path}", json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == field
    assert resp.json()["dead_lettered"] is True
    [letter] = publisher.letters()
    assert letter.topic == SNAPSHOTS
    assert json.loads(letter.raw) == body
    assert path.split("/")[0] in (letter.where or "")
    assert publisher.snapshots() == []


def test_a_body_that_is_not_json_is_400_and_dead_lettered(client: TestClient,
                                                         publisher: RecordingPublisher) -> None:
    resp = client.put(f"{BASE}/tickets/cumulative", content=b"normal=120")
    assert resp.status_code == 400
    assert publisher.letters()[0].raw == b"normal=120"


def test_a_bad_performance_number_is_422(client: TestClient) -> None:
    resp = client.put("/productions/NL-23-1234-5/performances/three/capacity", json={"capacity": 1})
    assert resp.status_code == 422 and resp.json()["field"] == "path.number"


def test_kafka_down_is_503_with_retry_after_and_nothing_is_remembered(
        client: TestClient, publisher: RecordingPublisher) -> None:
    client.put(f"{BASE}/capacity", json={"capacity": 850})
    publisher.down = True
    resp = client.put(f"{BASE}/capacity", json={"capacity": 900})
    assert resp.status_code == 503
    assert int(resp.headers["Retry-After"]) >= 1
    publisher.down = False
    assert client.get(f"{BASE}/cumulative").json()["capacity"] == 850


def test_a_receiver_with_a_token_refuses_calls_without_it(publisher: RecordingPublisher) -> None:
    receiver = DipReceiver(_ctx(publisher), "t", SnapshotBook(None), token=SecretStr("s3cret"))
    client = TestClient(create_app(receiver))
    assert client.put(f"{BASE}/capacity", json={"capacity": 1}).status_code == 401
    ok = client.put(f"{BASE}/capacity", json={"capacity": 1},
                    headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200


def test_a_replayed_call_with_the_same_updated_has_the_same_fact_id(
        client: TestClient, publisher: RecordingPublisher) -> None:
    client.put(f"{BASE}/tickets/cumulative", json=TICKETS)
    client.put(f"{BASE}/tickets/cumulative", json=TICKETS)
    first, second = publisher.snapshots()
    assert first.fact_id == second.fact_id


def test_the_openapi_documents_the_four_calls(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for suffix in ("tickets/cumulative", "reservations/cumulative", "blocked-seats/cumulative",
                   "capacity"):
        assert "put" in paths[f"/productions/{{production}}/performances/{{number}}/{suffix}"]


# -- hostile input (issue #11) ----------------------------------------------------------

INT_MAX = 2**31 - 1
TOKEN = {"Authorization": "Bearer s3cret"}


@pytest.fixture
def guarded(publisher: RecordingPublisher) -> TestClient:
    receiver = DipReceiver(_ctx(publisher), "t", SnapshotBook(None), token=SecretStr("s3cret"))
    return TestClient(create_app(receiver))


def _encodes(snapshot: SalesSnapshot) -> None:
    """The snapshot as the contract's Avro schema carries it (fastavro raises otherwise)."""
    import io

    import fastavro

    from schemas.registry import load_schema

    fastavro.schemaless_writer(io.BytesIO(), fastavro.parse_schema(load_schema("sales_snapshot.avsc")),
                               snapshot.to_avro())


@pytest.mark.parametrize(("path", "body", "field"), [
    ("capacity", {"capacity": 2**31}, "capacity"),
    ("tickets/cumulative", {"normal": {"tickets": 2**31, "recette": 0}}, "normal.tickets"),
    ("tickets/cumulative", {"free": {"tickets": 1, "recette": 2**63}}, "free.recette"),
    ("tickets/cumulative", {"normal": {"tickets": INT_MAX}, "discount": {"tickets": INT_MAX}},
     "normal.tickets"),  # each fits an int, their sum (seats sold) would not
    ("reservations/cumulative", {"reservations": INT_MAX, "value": 0}, "reservations"),
    ("blocked-seats/cumulative", {"blockedSeats": 2**40, "value": 0}, "blockedSeats"),
])
def test_a_number_the_contract_cannot_carry_is_422_naming_the_input_field_and_not_kept(
        client: TestClient, publisher: RecordingPublisher, path: str, body: dict, field: str) -> None:
    assert client.put(f"{BASE}/capacity", json={"capacity": 850}).status_code == 200
    assert client.put(f"{BASE}/tickets/cumulative", json=TICKETS).status_code == 200
    resp = client.put(f"{BASE}/{path}", json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == field and resp.json()["dead_lettered"] is True
    assert len(publisher.snapshots()) == 2
    # nothing of the refused call is kept: the next valid call is accepted and encodes
    held = client.get(f"{BASE}/cumulative").json()
    assert held["capacity"] == 850 and held["tickets"]["normal"]["tickets"] == 120
    assert client.put(f"{BASE}/reservations/cumulative", json={"reservations": 3}).status_code == 200
    _encodes(publisher.snapshots()[-1])


@pytest.mark.parametrize("updated", [
    "9999-12-31T23:59:59-01:00",   # past datetime.max once in UTC
    "0001-01-01T00:00:00+01:00",   # before datetime.min once in UTC
    "1999-12-31T23:59:59Z",        # before the event-time window
    "2999-01-01T00:00:00Z",        # far ahead of now
    "2025-02-01T10:00:00",         # no offset
])
def test_an_updated_time_out_of_range_is_422_naming_updated_not_a_500(
        client: TestClient, publisher: RecordingPublisher, updated: str) -> None:
    resp = client.put(f"{BASE}/capacity", json={"capacity": 5, "updated": updated})
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == "updated" and resp.json()["dead_lettered"] is True
    assert publisher.snapshots() == []


def test_cumulative_numbers_are_not_shown_without_the_token(guarded: TestClient) -> None:
    assert guarded.put(f"{BASE}/capacity", json={"capacity": 850}, headers=TOKEN).status_code == 200
    refused = guarded.get(f"{BASE}/cumulative")
    assert refused.status_code == 401 and "capacity" not in refused.text
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    wrong = guarded.get(f"{BASE}/cumulative", headers={"Authorization": "Bearer guess"})
    assert wrong.status_code == 401
    assert guarded.get(f"{BASE}/cumulative", headers=TOKEN).json()["capacity"] == 850
    assert guarded.get("/healthz/live").status_code == 200
    assert guarded.get("/metrics").status_code == 200


@pytest.mark.parametrize(("raw", "says"), [
    (b"[" * 10_000 + b"]" * 10_000, "nested"),
    (b'{"capacity": ' + b"7" * 5_000 + b"}", "digits"),
    (b'{"capacity": NaN}', "NaN"),
    (b"\xff\xfe{}", "UTF-8"),
])
def test_hostile_json_is_a_clear_400_naming_the_body(
        client: TestClient, publisher: RecordingPublisher, raw: bytes, says: str) -> None:
    resp = client.put(f"{BASE}/capacity", content=raw)
    assert resp.status_code == 400, resp.text
    assert resp.json()["field"] == "body" and says in resp.json()["error"]
    assert publisher.letters()[0].raw == raw


def test_the_openapi_refs_resolve_and_list_the_answers_and_the_bearer_token(
        guarded: TestClient) -> None:
    doc = guarded.get("/openapi.json").json()

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values()
                                                                 for r in refs(v)]
        return [r for v in node for r in refs(v)] if isinstance(node, list) else []

    for ref in refs(doc):
        target: Any = doc
        for step in ref.removeprefix("#/").split("/"):
            target = target[step]  # KeyError: the $ref does not resolve
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": doc["components"]["securitySchemes"]
        ["bearer"]["description"]}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["security"] == [{"bearer": []}], (method, path)
            expected = {"200", "401", "404", "422", "500", "503"}
            if method == "put":
                expected |= {"400", "408", "413"}
            assert expected <= set(op["responses"]), (method, path)
            assert op["responses"]["503"]["headers"]["Retry-After"]["required"] is True

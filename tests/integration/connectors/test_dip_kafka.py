"""DIP receiver and DIP calendar poller against real Kafka."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from bus.deadletter import MAX_VALUE_BYTES
from bus.http import HttpServer
from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import PERFORMANCES, SNAPSHOTS, dlq_of
from connectors.fakes.dip import FakeDip, dip_performance, dip_production
from connectors.sdk.context import ConnectorContext
from connectors.sdk.runner import SourceRunner
from connectors.ticketing.dip import DipCalendarSource, DipReceiver, SnapshotBook, create_app
from tests.integration.connectors.readback import read_topic

pytestmark = pytest.mark.integration


def snapshots(settings: Settings, registry: Registry, key: str) -> list[dict[str, Any]]:
    decode = AvroDeserializer(registry)
    return [decode(m.value()) for m in read_topic(settings, SNAPSHOTS)
            if (m.key() or b"").decode() == key]


def _production() -> str:
    return f"NL-25-{random.randint(1000, 9999)}-{random.randint(1, 9)}"  # noqa: S311


class Receiver:
    """A DIP receiver on a free port with its own connector context."""

    def __init__(self, settings: Settings, name: str, account: str = "schouwburg") -> None:
        self.ctx = ConnectorContext(settings, name, serve_metrics=False,
                                    metrics_registry=CollectorRegistry()).open()
        self.book = SnapshotBook(self.ctx.positions, load_timeout_s=3)
        self.server = HttpServer(create_app(DipReceiver(self.ctx, account, self.book)),
                                 "127.0.0.1", 0).start()
        self.http = httpx.Client(base_url=self.server.url, timeout=30)

    def put(self, production: str, number: int, path: str, body: Any) -> httpx.Response:
        return self.http.put(f"/productions/{production}/performances/{number}/{path}", json=body)

    def close(self) -> None:
        self.http.close()
        self.server.stop()
        self.ctx.close()


@pytest.fixture
def receiver(topics: Settings) -> Iterator[Receiver]:
    r = Receiver(topics, f"dip-{uuid.uuid4().hex[:6]}")
    yield r
    r.close()


def _lines(snap: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {str(line["ticket_type"]): (line["tickets"], line["revenue_cents"]) for line in snap["lines"]}


def test_put_calls_become_merged_snapshots_on_the_topic_and_a_refund_goes_backwards(
        receiver: Receiver, topics: Settings, registry: Registry) -> None:
    prod = _production()
    calls = [("tickets/cumulative", {"normal": {"tickets": 120, "recette": 360000},
                                     "discount": {"tickets": 30, "recette": 60000}}),
             ("reservations/cumulative", {"reservations": 12, "value": 36000}),
             ("capacity", {"capacity": 850}),
             ("tickets/cumulative", {"normal": {"tickets": 118, "recette": 354000},
                                     "discount": {"tickets": 30, "recette": 60000}})]
    for path, body in calls:
        resp = receiver.put(prod, 3, path, body)
        assert resp.status_code == 200, resp.text
    snaps = snapshots(topics, registry, f"dip|{prod}|00003")
    assert len(snaps) == 4
    assert [_lines(s)["NORMAL"][0] for s in snaps] == [120, 120, 120, 118]
    last = snaps[-1]
    assert (last["reservations"], last["reservations_value_cents"], last["capacity"]) == (12, 36000, 850)
    assert last["performance_key"] == f"dip|{prod}|00003"
    assert last["identifiers"] == [{"namespace": "dip", "value": f"{prod}|00003"}]


def test_bad_input_is_4xx_naming_the_field_and_lands_in_the_dlq(
        receiver: Receiver, topics: Settings) -> None:
    prod = _production()
    resp = receiver.put(prod, 1, "tickets/cumulative", {"normal": {"tickets": -5, "recette": 0}})
    assert resp.status_code == 422 and resp.json()["field"] == "normal.tickets"
    resp = receiver.http.put(f"/productions/{prod}/performances/1/capacity", content=b"{capacity: 1")
    assert resp.status_code == 400
    letters = [m for m in read_topic(topics, dlq_of(SNAPSHOTS))
               if prod.encode() in dict(m.headers() or []).get("errors.source.position", b"")]
    assert len(letters) == 2
    headers = dict(letters[0].headers())
    assert headers["errors.field"] == b"normal.tickets"
    assert letters[0].value() == b'{"normal":{"tickets":-5,"recette":0}}'
    assert letters[1].value() == b"{capacity: 1"


def test_a_restarted_receiver_still_knows_the_ticket_lines(topics: Settings, registry: Registry) -> None:
    prod, name = _production(), f"dip-{uuid.uuid4().hex[:6]}"
    first = Receiver(topics, name)
    try:
        assert first.put(prod, 2, "tickets/cumulative",
                         {"normal": {"tickets": 40, "recette": 100000}}).status_code == 200
    finally:
        first.close()
    second = Receiver(topics, name)
    try:
        assert second.put(prod, 2, "capacity", {"capacity": 300}).status_code == 200
    finally:
        second.close()
    last = snapshots(topics, registry, f"dip|{prod}|00002")[-1]
    assert _lines(last)["NORMAL"] == (40, 100000) and last["capacity"] == 300


def test_kafka_down_is_503_with_retry_after(topics: Settings) -> None:
    down = Settings(kafka={"bootstrap_servers": "127.0.0.1:1"}, registry=topics.registry.model_dump(),
                    connector={"delivery_timeout_s": 2}, topic_prefix=topics.topic_prefix)
    ctx, ctx2 = (ConnectorContext(down, "dip-down", serve_metrics=False,
                                  metrics_registry=CollectorRegistry()).open() for _ in range(2))
    server = HttpServer(create_app(DipReceiver(ctx, "t", SnapshotBook(None))), "127.0.0.1", 0).start()
    # the same with durable parts: reading them back from Kafka fails first
    durable = HttpServer(create_app(DipReceiver(ctx2, "t", SnapshotBook(ctx2.positions, load_timeout_s=2))),
                         "127.0.0.1", 0).start()
    try:
        with httpx.Client(timeout=60) as http:
            path = "/productions/NL-25-0001-1/performances/1/capacity"
            resp = http.put(server.url + path, json={"capacity": 100})
            assert resp.status_code == 503, resp.text
            assert int(resp.headers["Retry-After"]) >= 1
            bad = http.put(server.url + path, json={"capacity": -1})
            assert bad.status_code == 503  # not even the dead letter is safe: retry
            assert http.put(durable.url + path, json={"capacity": 100}).status_code == 503
    finally:
        server.stop()
        durable.stop()
        ctx.close()
        ctx2.close()


def test_the_calendar_poller_publishes_dip_performances(topics: Settings, registry: Registry) -> None:
    prod = _production()
    updated = datetime(2025, 1, 10, 9, tzinfo=UTC)
    with FakeDip([(dip_production(prod, "Sluipend Gif", updated),
                   [dip_performance(1, "2025-03-01T20:15:00+01:00"),
                    dip_performance(2, "2025-03-02T14:30:00+01:00", status="cancellation")])]) as fake:
        ctx = ConnectorContext(topics, f"dipcal-{prod}", serve_metrics=False,
                               metrics_registry=CollectorRegistry()).open()
        try:
            source = DipCalendarSource(fake.url, account=f"dip-{prod}")
            SourceRunner(source, ctx.publisher, ctx.positions).run(until_caught_up=True)
        finally:
            ctx.close()
    decode = AvroDeserializer(registry)
    perfs = [decode(m.value()) for m in read_topic(topics, PERFORMANCES)
             if (m.key() or b"").decode().startswith(f"dip|{prod}|")]
    assert sorted((p["performance_key"], str(p["status"])) for p in perfs) == [
        (f"dip|{prod}|00001", "SCHEDULED"), (f"dip|{prod}|00002", "CANCELLED")]


def test_the_poll_mode_cli_publishes_snapshots_of_a_vendors_cumulative_list(
        topics: Settings, registry: Registry) -> None:
    from click.testing import CliRunner

    from connectors.fakes.dip import cumulative_entry
    from connectors.ticketing.dip.cli import command

    prod = _production()
    when = datetime(2025, 2, 1, 10, tzinfo=UTC)
    with FakeDip() as fake:
        fake.set_cumulative([cumulative_entry(prod, 1, when, normal=(50, 125000), capacity=640),
                             {"production": prod, "number": 2, "updated": "not a date"}])
        result = CliRunner().invoke(command, ["--poll", f"{fake.url}/cumulative", "--account",
                                              f"vendor-{prod}", "--until-caught-up", "--no-metrics"],
                                    obj=topics, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [snap] = snapshots(topics, registry, f"dip|{prod}|00001")
    assert _lines(snap)["NORMAL"] == (50, 125000) and snap["capacity"] == 640
    where = f"GET {fake.url}/cumulative [1]".encode()
    letters = [m for m in read_topic(topics, dlq_of(SNAPSHOTS))
               if dict(m.headers() or []).get("errors.source.position") == where]
    assert len(letters) == 1 and dict(letters[0].headers())["errors.field"] == b"updated"


# -- hostile input (issue #11) ----------------------------------------------------------

def test_numbers_the_contract_cannot_carry_are_refused_and_later_calls_reach_the_topic(
        receiver: Receiver, topics: Settings, registry: Registry) -> None:
    prod, int_max = _production(), 2**31 - 1
    refused = [receiver.put(prod, 4, "capacity", {"capacity": 2**31}),
               # each count fits an Avro int, the seats sold (their sum) would not
               receiver.put(prod, 4, "tickets/cumulative", {"normal": {"tickets": int_max},
                                                            "discount": {"tickets": int_max}})]
    assert [(r.status_code, r.json()["field"]) for r in refused] == [
        (422, "capacity"), (422, "normal.tickets")]
    for capacity in (850, 900):
        ok = receiver.put(prod, 4, "capacity", {"capacity": capacity})
        assert ok.status_code == 200, ok.text
    snaps = snapshots(topics, registry, f"dip|{prod}|00004")
    assert [(s["capacity"], s["lines"]) for s in snaps] == [(850, []), (900, [])]
    letters = [dict(m.headers() or []) for m in read_topic(topics, dlq_of(SNAPSHOTS))
               if prod.encode() in dict(m.headers() or []).get("errors.source.position", b"")]
    assert [(h["errors.stage"], h["errors.field"]) for h in letters] == [
        (b"mapping", b"capacity"), (b"mapping", b"normal.tickets")]


MIB = 1_048_576


@pytest.mark.parametrize("body", [
    b"a" * (MIB - 16),                          # a run of one letter (blocked masking 24 s)
    b"(0-" * ((MIB - 16) // 3),                 # a phone-number start everywhere
    b"[" * (MIB // 2 - 8) + b"]" * (MIB // 2 - 8),  # nested far past any vendor's depth
], ids=["letters", "phone-starts", "nested"])
def test_a_hostile_mebibyte_is_answered_in_well_under_a_second_while_live_answers(
        receiver: Receiver, topics: Settings, body: bytes) -> None:
    import threading
    import time

    prod = _production()
    path = f"/productions/{prod}/performances/1/tickets/cumulative"
    answers: list[httpx.Response] = []
    sender = threading.Thread(target=lambda: answers.append(receiver.http.put(path, content=body)))
    t0 = time.monotonic()
    sender.start()
    with httpx.Client(base_url=receiver.server.url, timeout=5) as other:
        while sender.is_alive() and time.monotonic() - t0 < 10:
            assert other.get("/healthz/live").status_code == 200  # the server is not blocked
            time.sleep(0.05)
    sender.join(30)
    # Two seconds guards a blocking bug (minutes of masking), not speed: it takes ~0.1 s.
    assert time.monotonic() - t0 < 2.0
    assert answers[0].status_code == 400, answers[0].text
    assert answers[0].json()["dead_lettered"] is True
    letters = [m for m in read_topic(topics, dlq_of(SNAPSHOTS))
               if prod.encode() in dict(m.headers() or []).get("errors.source.position", b"")]
    assert len(letters) == 1 and dict(letters[0].headers())["errors.field"] == b"body"
    # over what Kafka takes: the letter keeps the first bytes and says how long the body was
    headers = dict(letters[0].headers())
    assert (headers["errors.truncated"], headers["errors.original.size"]) == (
        b"true", str(len(body)).encode())
    assert letters[0].value() == body[:MAX_VALUE_BYTES]

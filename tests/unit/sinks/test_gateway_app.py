"""The gateway's HTTP API over a view filled by hand (no Kafka): answers, 4xx, 503, board."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from sinks.gateway.app import GatewayParts, create_app
from sinks.gateway.client import stream_events
from sinks.gateway.view import View
from tests.support.gateway import gateway_parts

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)  # 14:00 in Amsterdam
PID = "dip|NL-23-1234-5|3"
UIT = "uit|0f6b2c9e-1111-4c1a-9d6e-2b0b7a7f0001#2"


def availability(pid: str, **kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"performance_id": pid, "capacity": 500, "sold": 488, "reserved": 0, "blocked": 0,
                           "refunded": 0, "remaining": 12, "status": "AVAILABLE", "title": "Hamlet",
                           "venue_name": "Stadsschouwburg", "city": "Utrecht", "region": "Utrecht",
                           "genre": "Toneel", "start": NOW + timedelta(hours=6),
                           "schema_org_availability": "https://schema.org/InStock",
                           "uit_booking_availability_type": "Available", "updated_at": NOW, "version": 3}
    rec.update(kw)
    return rec


def offer(pid: str, **kw: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"performance_id": pid, "title": "Hamlet", "venue_name": "Stadsschouwburg",
                           "city": "Utrecht", "region": "Utrecht", "genre": "Toneel",
                           "start": NOW + timedelta(hours=6), "remaining": 12, "capacity": 500,
                           "status": "AVAILABLE", "url": None, "updated_at": NOW}
    rec.update(kw)
    return rec


def make_parts(ready: bool = True) -> GatewayParts:
    parts = gateway_parts(View(100, seq_base=0), NOW, ready=ready, heartbeat_s=0.2)
    parts.health.add_check("view_loaded", parts.ready.is_set)
    v = parts.view
    v.apply_availability(PID, availability(PID))
    v.apply_availability(UIT, availability(UIT, status="LIMITED", remaining=3, city="Gent",
                                           region="Oost-Vlaanderen", genre="Dans",
                                           start=NOW + timedelta(days=1)))
    v.apply_lastminute(PID, offer(PID))
    v.apply_lastminute(UIT, offer(UIT, remaining=3, status="LIMITED", city="Gent",
                                  region="Oost-Vlaanderen", start=NOW + timedelta(days=1)))
    return parts


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(create_app(make_parts())) as c:
        yield c


def test_one_performance_with_pipes_and_hash_url_encoded(client: TestClient) -> None:
    r = client.get(f"/v1/performances/{quote(PID, safe='')}/availability")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["performance_id"] == PID
    assert body["bookingAvailability"] == {"type": "Available", "capacity": 500, "remainingCapacity": 12}
    assert body["offers"]["availability"] == "https://schema.org/InStock"
    r = client.get(f"/v1/performances/{quote(UIT, safe='')}/availability")
    assert r.status_code == 200 and r.json()["remaining"] == 3


def test_unknown_performance_is_404_with_a_message(client: TestClient) -> None:
    r = client.get("/v1/performances/dip%7Cnope%7C1/availability")
    assert r.status_code == 404
    assert "dip|nope|1" in r.json()["message"]


def test_availability_list_filters_and_carries_the_snapshot_position(client: TestClient) -> None:
    r = client.get("/v1/availability", params={"status": "limited"})
    body = r.json()
    assert r.status_code == 200
    assert [d["performance_id"] for d in body["items"]] == [UIT]
    assert body["last_event_id"] == "4" == r.headers["X-Last-Event-ID"]
    r = client.get("/v1/availability", params={"region": "utrecht", "from": "2025-06-01", "to": "2025-06-01"})
    assert [d["performance_id"] for d in r.json()["items"]] == [PID]


def test_lastminute_by_day_sorted_by_start(client: TestClient) -> None:
    assert [d["performance_id"] for d in client.get("/v1/lastminute").json()["items"]] == [PID, UIT]
    assert [d["performance_id"] for d in client.get("/v1/lastminute?date=today").json()["items"]] == [PID]
    assert [d["performance_id"] for d in
            client.get("/v1/lastminute?date=tomorrow&min_remaining=2").json()["items"]] == [UIT]
    assert client.get("/v1/lastminute?date=2025-06-02&city=GENT").json()["count"] == 1
    assert client.get("/v1/lastminute?min_remaining=5").json()["total"] == 1


@pytest.mark.parametrize(("url", "parameter"), [
    ("/v1/lastminute?date=yesterday", "date"),
    ("/v1/lastminute?date=2025-13-40", "date"),
    ("/v1/lastminute?limit=-1", "limit"),
    ("/v1/lastminute?limit=ten", "limit"),
    ("/v1/lastminute?min_remaining=-3", "min_remaining"),
    ("/v1/availability?status=FULL", "status"),
    ("/v1/availability?from=soon", "from"),
    ("/v1/availability?from=2025-06-02&to=2025-06-01", "to"),
    ("/v1/availability?limit=5000", "limit"),
    ("/v1/stream?topics=sales", "topics"),
    ("/v1/stream?last_event_id=abc", "last_event_id"),
])
def test_bad_parameters_are_400_naming_the_parameter(client: TestClient, url: str, parameter: str) -> None:
    r = client.get(url)
    assert r.status_code == 400, r.text
    assert r.json()["parameter"] == parameter
    assert parameter in r.json()["message"]


def test_not_ready_is_503_on_health_and_data() -> None:
    with TestClient(create_app(make_parts(ready=False))) as c:
        assert c.get("/healthz").status_code == 503
        r = c.get("/v1/lastminute")
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert c.get("/healthz/live").status_code == 200


def test_metrics_count_requests_by_route_template(client: TestClient) -> None:
    client.get(f"/v1/performances/{quote(PID, safe='')}/availability")
    client.get("/v1/performances/x/availability")
    text = client.get("/metrics").text
    assert ('cultuurbus_gateway_requests_total{method="GET",'
            'route="/v1/performances/{performance_id:path}/availability",status="200"} 1.0') in text
    assert 'status="404"' in text
    assert "cultuurbus_gateway_sse_clients" in text


def test_board_and_its_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/board")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/board/static/board.js" in page.text
    for text in (page.text, *(client.get(f"/board/static/{a}").text for a in ("board.js", "board.css"))):
        assert "http://" not in text and "https://" not in text  # no CDN, nothing remote
    assert client.get("/openapi.json").json()["info"]["title"].startswith("cultuurbus")


# -- SSE over a real HTTP server (still no Kafka) -------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[str, GatewayParts]]:
    parts = make_parts()
    server = uvicorn.Server(uvicorn.Config(create_app(parts), log_config=None, lifespan="on"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", parts
    parts.broadcaster.close_threadsafe()
    server.should_exit = True
    thread.join(10)


def _change(parts: GatewayParts, remaining: int, version: int) -> None:
    _, change = parts.view.apply_availability(PID, availability(PID, remaining=remaining, version=version))
    assert change is not None
    parts.broadcaster.notify_threadsafe([change])


def test_sse_over_http_resumes_from_last_event_id_without_gaps_or_repeats(
        served: tuple[str, GatewayParts]) -> None:
    url, parts = served
    seen: list[tuple[str, int]] = []
    with httpx.Client(base_url=url, timeout=httpx.Timeout(10.0)) as http:
        events = stream_events(http, topics="availability", last_event_id="4")
        _change(parts, 11, 4)
        _change(parts, 10, 5)
        for e in events:
            seen.append((str(e.id), e.json()["remaining"]))
            if len(seen) == 2:
                break
        events.close()  # the connection drops here
        _change(parts, 9, 6)  # missed while away
        events = stream_events(http, topics="availability", last_event_id=seen[-1][0])
        _change(parts, 8, 7)
        for e in events:
            seen.append((str(e.id), e.json()["remaining"]))
            if len(seen) == 4:
                break
        events.close()
    assert seen == [("5", 11), ("6", 10), ("7", 9), ("8", 8)]


def test_sse_sends_heartbeat_comments(served: tuple[str, GatewayParts]) -> None:
    url, _ = served
    with httpx.Client(base_url=url, timeout=httpx.Timeout(10.0)) as http, \
            http.stream("GET", "/v1/stream", params={"topics": "lastminute"}) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith(": heartbeat"):
                break


def test_cli_command_documents_its_options() -> None:
    from click.testing import CliRunner

    from sinks.gateway.cli import gateway

    result = CliRunner().invoke(gateway, ["--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--client-queue"):
        assert option in result.output


def test_cors_is_off_unless_origins_are_given() -> None:
    with TestClient(create_app(make_parts())) as c:
        r = c.get("/v1/lastminute", headers={"Origin": "https://agenda.example"})
        assert "access-control-allow-origin" not in r.headers
    parts = make_parts()
    parts.cors_origins = ("https://agenda.example",)
    with TestClient(create_app(parts)) as c:
        r = c.get("/v1/lastminute", headers={"Origin": "https://agenda.example"})
        assert r.headers["access-control-allow-origin"] == "https://agenda.example"

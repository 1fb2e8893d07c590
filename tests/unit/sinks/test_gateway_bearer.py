"""Tenants' API tokens at the gateway, over a directory given by hand (no Kafka): public
requests as before, 401 for a token that is not valid, ``/v1/me``, the ops endpoints open."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from bus.settings import KafkaSettings
from bus.tenants import Tenant, TenantDirectory, hash_token
from sinks.gateway.app import create_app
from sinks.gateway.auth import TenantGate
from sinks.gateway.view import View
from tests.support.gateway import gateway_parts

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
TOKEN = "app-token-0123456789"
VENUE_TOKEN = "venue-token-0123456789"


def directory() -> TenantDirectory:
    return TenantDirectory([
        Tenant("agenda-app", "app", token_sha256=hash_token(TOKEN)),
        Tenant("stadsschouwburg", "venue", venues=("venue-1", "venue-2"),
               token_sha256=hash_token(VENUE_TOKEN)),
        Tenant("gone", "app", token_sha256=hash_token("gone-token"), revoked=True),
    ])


@pytest.fixture
def gate() -> TenantGate:
    return TenantGate(directory())


@pytest.fixture
def client(gate: TenantGate) -> Iterator[TestClient]:
    parts = gateway_parts(View(10, seq_base=0), NOW, tenants=gate, cors_origins=("*",))
    with TestClient(create_app(parts)) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(r: object) -> None:
    assert r.status_code == 401, r.text  # type: ignore[attr-defined]
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="cultuurbus"'  # type: ignore[attr-defined]
    body = r.json()  # type: ignore[attr-defined]
    assert body["error"] == "unauthorized" and "token" in body["message"]


def test_a_request_without_a_token_is_public_as_before(client: TestClient) -> None:
    r = client.get("/v1/availability")
    assert r.status_code == 200 and r.json()["count"] == 0


def test_a_tenants_token_opens_every_route_and_me_names_it(client: TestClient) -> None:
    assert client.get("/v1/availability", headers=bearer(TOKEN)).status_code == 200
    me = client.get("/v1/me", headers=bearer(VENUE_TOKEN))
    assert me.status_code == 200, me.text
    body = me.json()
    assert {k: body[k] for k in ("tenant", "kind", "venues", "productions")} == {
        "tenant": "stadsschouwburg", "kind": "venue", "venues": ["venue-1", "venue-2"],
        "productions": []}
    assert any("report sales" in line for line in body["may"])
    assert client.get("/v1/me", headers={"Authorization": f"bearer  {TOKEN} "}).json()["kind"] == "app"


@pytest.mark.parametrize("header", [
    "Bearer not-a-token", "Bearer gone-token", f"Basic {TOKEN}", "Bearer", "Bearer ", TOKEN,
    f"Bearer {TOKEN} extra"])
def test_a_header_that_is_not_a_valid_token_is_refused_everywhere(
        client: TestClient, header: str) -> None:
    for path in ("/v1/availability", "/v1/lastminute", "/v1/stream", "/v1/me", "/board",
                 "/openapi.json"):
        assert_refused(client.get(path, headers={"Authorization": header}))


def test_me_without_a_token_is_refused(client: TestClient) -> None:
    assert_refused(client.get("/v1/me"))


def test_the_ops_endpoints_answer_whatever_the_header_says(client: TestClient) -> None:
    for path in ("/healthz", "/healthz/live", "/metrics"):
        assert client.get(path, headers=bearer("not-a-token")).status_code == 200, path


def test_a_revoked_or_rotated_token_is_refused_at_its_next_request(
        client: TestClient, gate: TenantGate) -> None:
    app = gate.directory.get("agenda-app")
    assert app is not None
    assert client.get("/v1/me", headers=bearer(TOKEN)).status_code == 200
    gate.directory.put(app.changed(token_sha256=hash_token("new-token")))
    assert_refused(client.get("/v1/me", headers=bearer(TOKEN)))
    assert client.get("/v1/me", headers=bearer("new-token")).status_code == 200
    gate.directory.put(app.changed(revoked=True))
    assert_refused(client.get("/v1/availability", headers=bearer("new-token")))
    assert client.get("/v1/availability").status_code == 200  # the public still is served


def test_a_refusal_is_readable_by_a_page_of_another_origin(client: TestClient) -> None:
    r = client.get("/v1/me", headers={"Origin": "https://agenda.example", **bearer("nope")})
    assert_refused(r)
    assert r.headers["access-control-allow-origin"] == "*"
    pre = client.options("/v1/me", headers={"Origin": "https://agenda.example",
                                            "Access-Control-Request-Method": "GET",
                                            "Access-Control-Request-Headers": "Authorization"})
    assert pre.status_code == 200 and "authorization" in pre.headers["access-control-allow-headers"].lower()


def test_a_token_waits_for_the_directory_and_public_requests_do_not() -> None:
    loading = TenantGate(kafka=KafkaSettings(bootstrap_servers="127.0.0.1:1"))  # never started
    client = TestClient(create_app(gateway_parts(View(10), NOW, tenants=loading)))  # no lifespan
    r = client.get("/v1/me", headers=bearer(TOKEN))
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    assert r.json()["error"] == "unavailable" and "tenant directory" in r.json()["message"]
    assert client.get("/v1/availability").status_code == 200


def test_me_is_in_the_openapi_document_with_its_scheme(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/v1/me"]["get"]
    assert set(op["responses"]) == {"200", "401", "503"}
    assert op["security"] == [{"tenantToken": []}]
    assert doc["components"]["securitySchemes"]["tenantToken"]["scheme"] == "bearer"
    assert "Me" in doc["components"]["schemas"]

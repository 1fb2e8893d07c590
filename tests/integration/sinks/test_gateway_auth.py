"""The gateway authenticates tenants by their API token, against the real broker: it runs as
its own principal (``cultuurbus-gateway``) and follows the tenant directory
(``access.tenants``); the public is served without a token, as before."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest

from bus.directory import write_tenant
from bus.kafka import make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.tenants import Tenant, hash_token, new_secret
from bus.topics import AVAILABILITY
from ops.access.principals import GATEWAY
from schemas.models import Availability, AvailabilityStatus, utcnow
from sinks.gateway.server import Gateway
from tests.support.gateway import serving_gateway
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

WAIT_S = 30.0
REVOKED_WITHIN_S = 5.0


def new_tenant(kind: str = "app", **kw: object) -> tuple[Tenant, str]:
    token = new_secret()
    tenant = Tenant(f"{kind}-{uuid.uuid4().hex[:8]}", kind, token_sha256=hash_token(token),  # type: ignore[arg-type]
                    **kw)  # type: ignore[arg-type]
    return tenant, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def performance(topics: Settings, registry: Registry) -> str:
    """One performance on the session's availability topic."""
    pid = f"dip|NL-AUTH-{uuid.uuid4().hex[:6]}|1"
    topic = topics.topic_prefix + AVAILABILITY
    now = utcnow()
    value = AvroSerializer(registry, topic, "availability.avsc")(Availability(
        performance_id=pid, capacity=100, sold=60, remaining=40, status=AvailabilityStatus.AVAILABLE,
        city="Utrecht", start=now + timedelta(hours=6), updated_at=now, version=1))
    producer = make_producer(topics.kafka)
    producer.produce(topic, key=pid.encode(), value=value)
    assert producer.flush(WAIT_S) == 0
    return pid


@pytest.fixture(scope="module")
def venue(topics: Settings) -> tuple[Tenant, str]:
    """A venue tenant registered before the gateway starts."""
    tenant, token = new_tenant("venue", venues=("venue-utrecht",))
    write_tenant(topics.kafka, topics.topic_prefix, tenant)  # the test observer, as `tenant add`
    return tenant, token


@pytest.fixture(scope="module")
def gateway(stack, topics: Settings, performance: str,  # type: ignore[no-untyped-def]
            venue: tuple[Tenant, str]) -> Iterator[Gateway]:
    """The gateway as its own principal, heartbeats every 0.2 s, once ready."""
    s = topics.model_copy(update={"kafka": stack.kafka_client(GATEWAY),
                                  "registry": stack.registry_client(GATEWAY),
                                  "gateway": topics.gateway.model_copy(update={"heartbeat_s": 0.2})})
    with serving_gateway(s, WAIT_S, interval=0.1) as gw:
        yield gw


def test_without_a_token_availability_is_public_and_health_waits_for_the_directory(
        gateway: Gateway, performance: str) -> None:
    r = httpx.get(f"{gateway.url}/v1/performances/{quote(performance, safe='')}/availability")
    assert r.status_code == 200 and r.json()["remaining"] == 40, r.text
    health = httpx.get(f"{gateway.url}/healthz").json()
    assert health["checks"]["tenants_loaded"] is True
    assert health["checks"]["tenants_reader_running"] is True


def test_a_tenants_token_names_it_and_reads_availability(
        gateway: Gateway, performance: str, venue: tuple[Tenant, str]) -> None:
    tenant, token = venue
    with httpx.Client(base_url=gateway.url, headers=bearer(token), timeout=10) as http:
        me = http.get("/v1/me")
        assert me.status_code == 200, me.text
        assert me.json()["tenant"] == tenant.name and me.json()["kind"] == "venue"
        assert me.json()["venues"] == ["venue-utrecht"]
        r = http.get(f"/v1/performances/{quote(performance, safe='')}/availability")
        assert r.status_code == 200 and r.json()["performance_id"] == performance


def test_an_unknown_token_is_refused_with_a_problem_and_a_challenge(gateway: Gateway) -> None:
    for path in ("/v1/availability", "/v1/me"):
        r = httpx.get(gateway.url + path, headers=bearer(new_secret()))
        assert r.status_code == 401, r.text
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="cultuurbus"'
        assert r.json()["error"] == "unauthorized" and "token" in r.json()["message"]
    assert httpx.get(f"{gateway.url}/healthz", headers=bearer(new_secret())).status_code == 200


def test_a_tenant_added_later_is_known_within_seconds(topics: Settings, gateway: Gateway) -> None:
    tenant, token = new_tenant("analyst")
    write_tenant(topics.kafka, topics.topic_prefix, tenant)
    me = wait_until(lambda: httpx.get(f"{gateway.url}/v1/me", headers=bearer(token)).status_code == 200,
                    REVOKED_WITHIN_S, interval=0.1)
    assert me, f"tenant {tenant.name} was not known to the gateway within {REVOKED_WITHIN_S} s"


def test_a_revoked_tenant_is_refused_within_seconds_and_its_stream_ends(
        topics: Settings, gateway: Gateway, venue: tuple[Tenant, str]) -> None:
    app, token = new_tenant("app")
    write_tenant(topics.kafka, topics.topic_prefix, app)
    assert wait_until(lambda: httpx.get(f"{gateway.url}/v1/me", headers=bearer(token)).status_code == 200,
                      WAIT_S, interval=0.1)
    with httpx.Client(base_url=gateway.url, headers=bearer(token), timeout=10) as http, \
            http.stream("GET", "/v1/stream", params={"topics": "availability"}) as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines()
        assert "event: hello" in [next(lines) for _ in range(3)]  # id, event, data lines
        write_tenant(topics.kafka, topics.topic_prefix, app.changed(revoked=True))
        revoked_at = time.monotonic()
        for _ in lines:  # a heartbeat comment every 0.2 s; the loop ends with the stream
            assert time.monotonic() - revoked_at < REVOKED_WITHIN_S, "the stream outlived its tenant"
        ended_after = time.monotonic() - revoked_at
    assert ended_after < REVOKED_WITHIN_S, f"the revoked tenant's stream ended after {ended_after:.1f} s"
    refused = wait_until(lambda: httpx.get(f"{gateway.url}/v1/me", headers=bearer(token)).status_code == 401,
                         REVOKED_WITHIN_S, interval=0.1)
    assert refused, "the revoked tenant's token still opened the gateway"
    r = httpx.get(f"{gateway.url}/v1/availability", headers=bearer(token))
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    # the others carry on: the public, another tenant, the probes
    assert httpx.get(f"{gateway.url}/v1/availability").status_code == 200
    assert httpx.get(f"{gateway.url}/v1/me", headers=bearer(venue[1])).status_code == 200
    assert httpx.get(f"{gateway.url}/healthz").status_code == 200

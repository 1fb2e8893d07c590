"""The gateway holds to its OpenAPI document (Schemathesis 4, every check on) while it
serves a view loaded from the real broker, on loopback.

Every check is on (``--checks all`` and a response-time limit); none is excluded.
Bounds: ``MAX_EXAMPLES`` per operation and phase, deterministic generation, one worker:
the run takes well under two minutes. The stream never ends by itself, so this gateway
is started with ``stream_max_s=0.3``: each ``/v1/stream`` response is a complete, real
SSE response (``hello``, events, heartbeats) that the server ends after 0.3 s, as a
client that reconnects with its Last-Event-ID sees it.

One constraint JSON Schema cannot state: ``to`` must be later than ``from`` (documented;
the gateway answers 400 otherwise). The :func:`filter_case` hook below keeps the
generator from drawing such pairs, so ``positive_data_acceptance`` stays on for the
whole operation rather than being loosened. The CLI loads it from this module
(``SCHEMATHESIS_HOOKS``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis

from bus.directory import write_tenant
from bus.kafka import make_admin, make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.tenants import Tenant, hash_token, new_secret
from bus.topics import AVAILABILITY, LASTMINUTE, apply_catalog
from schemas.models import Availability, AvailabilityStatus, LastMinuteOffer, utcnow
from sinks.gateway.openapi import EXAMPLE_ID
from sinks.gateway.server import Gateway
from sinks.gateway.shapes import parse_instant
from tests.support.gateway import serving_gateway

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Leave out /v1/availability queries whose ``from`` is not before their ``to``."""
    query = case.query if isinstance(case.query, dict) else {}
    if case.operation.path != "/v1/availability" or not {"from", "to"} <= set(query):
        return True
    try:
        start = parse_instant(query["from"], "from")
        end = parse_instant(query["to"], "to", end_of_day=True)
    except Exception:  # not a valid pair of instants: a case for the 400 to answer
        return True
    return start is None or end is None or start < end

WAIT_S = 30.0
MAX_EXAMPLES = 25
MAX_RESPONSE_S = 5.0
#: An app tenant's API token: every request carries it, so /v1/me answers 200 (and
#: ``ignored_auth`` checks that it answers 401 without it).
TOKEN = new_secret()


@pytest.fixture(scope="module")
def gateway(bus_settings: Settings, registry: Registry) -> Iterator[Gateway]:
    prefix = f"gws{uuid.uuid4().hex[:6]}."
    s = bus_settings.model_copy(update={"topic_prefix": prefix})
    apply_catalog(make_admin(s.kafka), prefix)
    avail = AvroSerializer(registry, prefix + AVAILABILITY, "availability.avsc")
    offer = AvroSerializer(registry, prefix + LASTMINUTE, "lastminute_offer.avsc")
    producer = make_producer(s.kafka)
    now = utcnow()
    for i in range(6):
        pid = EXAMPLE_ID if i == 0 else f"dip|NL-API-{i}|1"  # the documented example exists
        start = now + timedelta(hours=3 + 10 * i)
        producer.produce(prefix + AVAILABILITY, key=pid.encode(), value=avail(Availability(
            performance_id=pid, capacity=100, sold=100 - 7 * i, remaining=7 * i,
            status=AvailabilityStatus.LIMITED if i < 2 else AvailabilityStatus.AVAILABLE,
            title=f"Show {i}", city="Utrecht", region="Utrecht", genre="Toneel", start=start,
            last_fact_time=now, updated_at=now, version=i + 1,
            production_keys=[f"dip-production|{pid.split('|')[1]}"])))  # the production example too
        producer.produce(prefix + LASTMINUTE, key=pid.encode(), value=offer(LastMinuteOffer(
            performance_id=pid, title=f"Show {i}", venue_name="Stadsschouwburg", city="Utrecht",
            region="Utrecht", genre="Toneel",
            start=start, remaining=7 * i, capacity=100, status=AvailabilityStatus.AVAILABLE,
            updated_at=now)))
    assert producer.flush(WAIT_S) == 0
    write_tenant(s.kafka, prefix, Tenant("schemathesis-app", "app", token_sha256=hash_token(TOKEN)))
    settings_ = s.model_copy(update={"gateway": s.gateway.model_copy(update={"heartbeat_s": 0.1})})
    with serving_gateway(settings_, WAIT_S, interval=0.1, stream_max_s=0.3) as gw:
        yield gw


def test_every_operation_answers_as_its_openapi_document_says(gateway: Gateway, tmp_path: Path) -> None:
    # The CLI, not `schemathesis.pytest.from_fixture`: its lazy loader reads `request.node._nodeid`,
    # which pytest 9 no longer has. The CLI runs every phase and prints a full report.
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "run", f"{gateway.url}/openapi.json",
         "--checks", "all", "--max-response-time", str(MAX_RESPONSE_S), "--mode", "all",
         "--phases", "examples,coverage,fuzzing,stateful", "--max-examples", str(MAX_EXAMPLES),
         "--seed", "20251", "--generation-deterministic", "--workers", "1",
         "--request-timeout", str(2 * MAX_RESPONSE_S), "--suppress-health-check", "all",
         "--report", "json", "--report-json-path", str(report),
         "--header", f"Authorization: Bearer {TOKEN}", "--no-color"],
        capture_output=True, text=True, timeout=150, check=False, cwd=REPO,
        env={**os.environ, "SCHEMATHESIS_HOOKS": __file__, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stdout[-12000:] + proc.stderr[-3000:]
    run = json.loads(report.read_text())
    assert run["complete"] and run["failures"] == [] and run["errors"] == []
    assert run["operations"]["tested"] == run["operations"]["total"] == 9  # with /v1/me and /v1/productions/{id}/performances
    assert {k: v for k, v in run["warnings"].items() if v} == {}
    print(f"schemathesis {run['schemathesis_version']}: {run['test_cases']['generated']} cases, "
          f"{run['operations']['tested']} operations, phases "
          f"{ {k: v['status'] for k, v in run['phases'].items()} }, {run['running_time']:.1f} s")

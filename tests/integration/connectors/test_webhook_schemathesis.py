"""The receiver does what its OpenAPI document says (Schemathesis 4, every check on).

The receiver is served on loopback in front of the real stack (Kafka + registry), with
a secret for every account of each vendor so generated account ids get past 404. Every
generated request is signed the way a signing relay signs it (``webhook.signing``):
without that, all of them would be 401 and the mapping path never exercised. Bounded:
``MAX_EXAMPLES`` per operation, derandomised, well under two minutes.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core import NotSet
from schemathesis.core.parameters import ParameterLocation

from bus.http import HttpServer
from bus.settings import Settings
from connectors.fakes.webhooks import FakeEventbriteApi
from connectors.sdk.context import ConnectorContext
from connectors.ticketing.webhook import WebhookSettings, create_app, sign
from tests.support.recording import recording_context

pytestmark = pytest.mark.integration

SECRET = "schemathesis-secret-0123"
MAX_EXAMPLES = 25
TALLY: Counter[str] = Counter()

# Every check is on. One is configured, not excluded: positive_data_acceptance also
# allows 422, because a body that satisfies the JSON Schema can still break a rule JSON
# Schema cannot state (an event time within the window relative to *now*; available +
# reserved <= total; an api_url on an allowed Eventbrite host that answers), and the
# receiver refuses exactly those with 422 naming the field, as the document says. A 400
# (not JSON) or a 5xx for schema-valid data still fails it.
#
# Generation: no extra, undocumented headers as "negative" data. HTTP servers ignore
# headers they do not know (proxies add some), and the receiver reads only those the
# document names; an unknown header is not a schema violation it could refuse.
CONFIG = SchemathesisConfig.from_dict({
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True,
                   "allow-extra-parameters": False},
    "checks": {"positive_data_acceptance": {
        "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]},
        # on too: no answer may take 5 s (generous on two busy cores; a Kafka ack is ms)
        "max_response_time": 5.0},
})


@pytest.fixture(scope="module")
def api() -> Iterator[FakeEventbriteApi]:
    with FakeEventbriteApi() as fake:
        yield fake


@pytest.fixture(scope="module")
def receiver_url(topics: Settings, api: FakeEventbriteApi) -> Iterator[str]:
    settings = WebhookSettings(
        secrets={"eventix": SECRET, "eventbrite": SECRET, "stager": SECRET},
        eventbrite_tokens={"*": api.token}, eventbrite_api_hosts=(api.host,), fetch_attempts=1)
    with ConnectorContext(topics, "webhook", serve_metrics=False) as ctx:
        server = HttpServer(create_app(ctx, settings), "127.0.0.1", 0).start()
        try:
            yield server.url
        finally:
            server.stop()


def _document() -> dict[str, Any]:
    """The receiver's OpenAPI document, built as the served app builds it (the schema must
    exist when pytest collects; ``test_the_served_document_is_the_one_tested`` checks)."""
    ctx, _ = recording_context()
    return create_app(ctx, WebhookSettings(secrets={"eventix": SECRET})).openapi()


# Schemathesis' lazy ``from_fixture`` does not run under pytest 9 (it sets a private
# node attribute pytest 9 removed), so the document is loaded eagerly.
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)


@schema.hook
def after_validate(context: Any, case: Any, response: Any, results: Any) -> None:
    TALLY["cases"] += 1
    TALLY[f"status {response.status_code}"] += 1
    for result in results:
        TALLY["checks"] += 1
        TALLY["failures"] += result.failure is not None


def test_the_served_document_is_the_one_tested(receiver_url: str) -> None:
    served = httpx.get(f"{receiver_url}/openapi.json", timeout=10).json()
    assert served == _document()


def _headers_negated(case: Any) -> bool:
    meta = case.meta
    info = meta.components.get(ParameterLocation.HEADER) if meta is not None else None
    return bool(info is not None and info.mode.is_negative)


def _signed(case: Any) -> dict[str, str] | None:
    """Sign the exact bytes the case will send, as the relay does: the body, and for
    Eventix the trigger header before it. A JSON body goes out as requests writes it,
    ``json.dumps(body)`` (the case is not changed: Schemathesis would re-judge it).

    A case whose headers Schemathesis made invalid on purpose (the signature among
    them: it is a header) is sent as generated, unsigned: it must be refused.
    """
    if _headers_negated(case):
        return None
    body = case.body
    if isinstance(body, bytes):
        raw = body
    elif body is None or isinstance(body, NotSet):
        raw = b""
    else:
        raw = json.dumps(body, allow_nan=False).encode()
    trigger = (case.headers or {}).get("OpenTicket-Trigger")
    if not isinstance(trigger, str):
        trigger = None
    return {"X-Signature": sign(SECRET, raw, trigger=trigger)}


@schema.parametrize()
@settings(deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture])
def test_the_receiver_conforms_to_its_openapi_document(case: Any, receiver_url: str) -> None:
    headers = _signed(case) if case.path.startswith("/webhooks/") else None
    case.call_and_validate(base_url=receiver_url, headers=headers)


def test_zz_the_run_exercised_the_mapping_path() -> None:
    """Runs after the parametrized tests (file order): signed requests reached the
    mapping (422s, 200s), not only the signature check."""
    print(f"\nschemathesis {schemathesis.__version__}: {dict(sorted(TALLY.items()))}")
    if not TALLY["cases"]:
        pytest.skip("run together with the conformance test to see its tally")
    assert TALLY["failures"] == 0
    assert TALLY["status 422"] + TALLY["status 200"] > 0

"""The DIP receiver keeps the promises of its OpenAPI document, checked by Schemathesis.

The receiver runs on loopback with a bearer token, against the real stack (Kafka,
registry): every operation of ``/openapi.json`` gets generated calls, valid and not, and
every built-in check runs on every answer (no 5xx; statuses, content types, headers and
bodies as documented; valid data accepted, invalid data refused; calls without or with a
wrong token refused; undocumented methods 405).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from bus.http import HttpServer
from bus.settings import Settings
from connectors.sdk.context import ConnectorContext
from connectors.ticketing.dip import DipReceiver, SnapshotBook, create_app
from tests.support.recording import RecordingPublisher, dip_context

pytestmark = pytest.mark.integration

TOKEN = f"st-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def dip_url(topics: Settings) -> Iterator[str]:
    ctx = ConnectorContext(topics, f"dip-st-{uuid.uuid4().hex[:6]}", serve_metrics=False,
                           metrics_registry=CollectorRegistry()).open()
    receiver = DipReceiver(ctx, "schemathesis", SnapshotBook(ctx.positions, load_timeout_s=5),
                           token=SecretStr(TOKEN))
    server = HttpServer(create_app(receiver), "127.0.0.1", 0).start()
    try:
        yield server.url
    finally:
        server.stop()
        ctx.close()


def _document() -> dict[str, Any]:
    """The document the receiver serves (the served one is compared in the test): built at
    import because ``schemathesis.pytest.from_fixture`` reads ``Item._nodeid``, which
    pytest 9.2 no longer has."""
    receiver = DipReceiver(dip_context(RecordingPublisher()), "schemathesis",
                           SnapshotBook(None), token=SecretStr(TOKEN))
    return create_app(receiver).openapi()


schema = schemathesis.openapi.from_dict(_document(), config=schemathesis.Config.from_dict({
    "headers": {"Authorization": f"Bearer {TOKEN}"},
    # bounded: 5 operations x (examples, coverage, fuzzing) in about a minute
    "generation": {"max-examples": 30},
    "request-timeout": 10,
}))


@schema.hook
def map_body(context: schemathesis.HookContext, body: Any) -> Any:
    """A generated ``updated`` that is a valid date-time is moved into the event-time window.

    Reason: the window (connector.event_time_earliest .. now + event_time_max_ahead_s)
    moves with the clock, which JSON Schema cannot say, so a schema-valid time of year 0539
    is refused (422, tested in the unit tests) and ``positive_data_acceptance`` would flag
    it. Only times that are valid already are moved, so no invalid call becomes valid.
    """
    if isinstance(body, dict) and isinstance(body.get("updated"), str):
        try:
            datetime.fromisoformat(body["updated"].replace("z", "Z"))
        except ValueError:
            return body
        return {**body, "updated": (datetime.now(UTC) - timedelta(minutes=5)).isoformat()}
    return body


def test_the_document_under_test_is_the_one_served(dip_url: str) -> None:
    assert httpx.get(f"{dip_url}/openapi.json").json() == _document()


ANSWERS: Counter[tuple[str, int]] = Counter()  # (generation mode, status) of every call


@schema.parametrize()
def test_the_dip_receiver_keeps_its_openapi_promises(case: schemathesis.Case, dip_url: str) -> None:
    response = case.call_and_validate(base_url=dip_url)
    mode = case.meta.generation.mode.value if case.meta is not None else "explicit"
    ANSWERS[(mode, response.status_code)] += 1


def test_the_generated_calls_reached_kafka_and_were_refused_where_invalid() -> None:
    print("schemathesis answers (mode, status): count", dict(sorted(ANSWERS.items())))
    assert ANSWERS[("positive", 200)] > 0  # snapshots acknowledged by the real Kafka
    assert sum(n for (mode, status), n in ANSWERS.items() if mode == "negative" and status == 422)
    assert not [key for key in ANSWERS if key[1] >= 500]

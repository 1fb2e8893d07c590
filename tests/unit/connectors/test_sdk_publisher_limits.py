"""The SDK's publisher and Kafka's message size (``message.max.bytes``, 1,000,000 bytes by
default): a dead letter of a large body is cut to what Kafka takes, never refused by the
client, and a record the client refuses is a DeliveryError, never an exception that
becomes a 500. A real producer; no broker is needed for the client to refuse a size."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from bus.errors import DeliveryError
from bus.settings import Settings
from bus.topics import TICKET_EVENTS
from connectors.sdk.errors import MappingError
from connectors.sdk.metrics import ConnectorMetrics
from connectors.sdk.publisher import Publisher
from connectors.sdk.records import DeadLetter

MIB = 1024 * 1024


@pytest.fixture
def publisher() -> Iterator[Publisher]:
    settings = Settings(kafka={"bootstrap_servers": "127.0.0.1:1"},  # never reached
                        connector={"delivery_timeout_s": 1})
    pub = Publisher(settings, "test", ConnectorMetrics(CollectorRegistry()))
    yield pub
    pub.close(timeout=0.1)


def test_a_dead_letter_of_a_mebibyte_body_is_queued_for_kafka_not_refused(
        publisher: Publisher) -> None:
    letter = DeadLetter(TICKET_EVENTS, b"a" * (2 * MIB), MappingError("not JSON", field="body"),
                        stage="parse")
    (future,) = publisher.submit([letter])  # the client took it: only the broker is missing
    assert not future.done()


def test_a_record_the_kafka_client_refuses_is_a_delivery_error_naming_the_topic(
        publisher: Publisher) -> None:
    future = publisher.produce_raw("connector.positions", "k", b"a" * (2 * MIB))
    with pytest.raises(DeliveryError, match=r"connector.positions.*too large"):
        future.result(timeout=1)


def test_awaiting_a_record_the_kafka_client_refuses_is_a_delivery_error_at_once(
        publisher: Publisher) -> None:
    async def save() -> None:
        await publisher.produce_raw_async("connector.positions", "k", b"a" * (2 * MIB), timeout=30)

    with pytest.raises(DeliveryError, match=r"connector.positions.*too large"):
        asyncio.run(asyncio.wait_for(save(), 5))  # not after the 30 s of waiting for an ack


def test_awaiting_a_record_no_broker_acknowledges_ends_in_a_delivery_error(
        publisher: Publisher) -> None:
    async def save() -> None:
        await publisher.produce_raw_async("connector.positions", "k", b"{}", timeout=0.3)

    with pytest.raises(DeliveryError, match="not acknowledged"):
        asyncio.run(save())


def test_a_wait_for_an_ack_ends_at_its_own_deadline_not_at_the_clients() -> None:
    """The client would report the missing ack only after 6 s; the wait ends first."""
    settings = Settings(kafka={"bootstrap_servers": "127.0.0.1:1"},
                        connector={"delivery_timeout_s": 6})
    pub = Publisher(settings, "test", ConnectorMetrics(CollectorRegistry()))
    try:
        async def save() -> None:
            await pub.produce_raw_async("connector.positions", "k", b"{}", timeout=0.3)

        with pytest.raises(DeliveryError, match="not acknowledged by Kafka in time"):
            asyncio.run(asyncio.wait_for(save(), 4))
    finally:
        pub.close(timeout=0.1)

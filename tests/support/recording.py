"""A connector context whose publisher records what it was given instead of producing:
the receivers' unit tests and the Schemathesis runs reach no Kafka through it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bus.errors import DeliveryError
from bus.settings import Settings
from connectors.sdk.context import ConnectorContext
from connectors.sdk.metrics import ConnectorMetrics
from connectors.sdk.records import DeadLetter, SourceRecord
from connectors.sdk.window import EventTimeWindow
from tests.support.pseudonyms import with_test_key

__all__ = ["KeptPositions", "RecordingPublisher", "dip_context", "recording_context"]


class RecordingPublisher:
    """Stands in for the SDK publisher without Kafka: keeps what it was given, or raises
    ``DeliveryError`` while ``down`` is set (as the real one does when Kafka is away)."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.items: list[SourceRecord | DeadLetter] = []
        self.down = False
        self.window = EventTimeWindow.from_settings((settings or Settings()).connector)

    def publish(self, items: Sequence[SourceRecord | DeadLetter], timeout: float | None = None) -> None:
        if self.down:
            raise DeliveryError("1 of 1 records not acknowledged by Kafka (test)", retry_after=2.0)
        self.items.extend(items)

    async def publish_async(self, items: Any, timeout: float | None = None) -> None:
        if self.down:
            raise DeliveryError(f"0 of {len(items)} records acknowledged by Kafka (test: down)",
                                retry_after=2.0)
        self.items.extend(items)

    @property
    def records(self) -> list[SourceRecord]:
        return [i for i in self.items if isinstance(i, SourceRecord)]

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return [i for i in self.items if isinstance(i, DeadLetter)]

    def snapshots(self) -> list[Any]:
        return [i.value for i in self.records]

    def letters(self) -> list[DeadLetter]:
        return self.dead_letters

    def kafka_reachable(self, timeout: float = 2.0) -> bool:
        return not self.down


def recording_context(settings: Settings | None = None, *, name: str = "webhook",
                      publisher: RecordingPublisher | None = None,
                      ) -> tuple[ConnectorContext, RecordingPublisher]:
    """A connector context (never opened: no Kafka, no metrics server) around a recording
    publisher, with a fresh metrics registry and the settings' pseudonymiser (the test key
    when they have none)."""
    ctx = ConnectorContext(with_test_key(settings or Settings()), name, serve_metrics=False)
    if publisher is None:
        publisher = RecordingPublisher(ctx.settings)
    else:
        publisher.window = EventTimeWindow.from_settings(ctx.settings.connector)
    ctx.metrics = ConnectorMetrics(ctx.metrics_registry)
    ctx.publisher = publisher  # type: ignore[assignment]
    ctx.health.add_check("kafka", publisher.kafka_reachable)
    return ctx, publisher


def dip_context(publisher: RecordingPublisher, settings: Settings | None = None) -> ConnectorContext:
    """What ``DipReceiver`` uses of a connector context, around ``publisher``."""
    return recording_context(settings, name="dip", publisher=publisher)[0]


class KeptPositions:
    """Stands in for the connector's position store without Kafka: keeps what was saved."""

    def __init__(self) -> None:
        self.saved: dict[str, dict[str, Any]] = {}

    def get(self, part: str) -> dict[str, Any] | None:
        return self.saved.get(part)

    def save(self, part: str, position: dict[str, Any], timeout: float | None = None) -> None:
        self.saved[part] = position

"""The webhook receiver's own metrics (the SDK's ConnectorMetrics count facts and DLQ)."""

from __future__ import annotations

from typing import ClassVar
from weakref import WeakKeyDictionary

from prometheus_client import CollectorRegistry, Counter, Histogram

from bus.metrics import LATENCY_BUCKETS

__all__ = ["WebhookMetrics"]


class WebhookMetrics:
    """Declared once per registry: ``of(registry)`` returns the same container again, so
    several apps can share one connector context."""

    _by_registry: ClassVar[WeakKeyDictionary[CollectorRegistry, WebhookMetrics]] = WeakKeyDictionary()

    @classmethod
    def of(cls, registry: CollectorRegistry) -> WebhookMetrics:
        found = cls._by_registry.get(registry)
        if found is None:
            found = cls._by_registry[registry] = cls(registry)
        return found

    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "cultuurbus_webhook_deliveries", "Webhook deliveries answered, by vendor and outcome "
            "(accepted, duplicate, rejected, unavailable, error).", ["vendor", "outcome", "status"],
            registry=registry)
        self.seconds = Histogram(
            "cultuurbus_webhook_request_seconds",
            "Time from request to answer (includes waiting for Kafka's ack).", ["vendor"],
            buckets=LATENCY_BUCKETS, registry=registry)

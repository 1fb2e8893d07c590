"""The webhook receiver's own metrics (the SDK's ConnectorMetrics count facts and DLQ)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from bus.metrics import LATENCY_BUCKETS, PerRegistry

__all__ = ["WebhookMetrics"]


class WebhookMetrics(PerRegistry):
    """The receiver's counters, declared once per registry (``of``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "cultuurbus_webhook_deliveries", "Webhook deliveries answered, by vendor and outcome "
            "(accepted, duplicate, rejected, unavailable, error).", ["vendor", "outcome", "status"],
            registry=registry)
        self.seconds = Histogram(
            "cultuurbus_webhook_request_seconds",
            "Time from request to answer (includes waiting for Kafka's ack).", ["vendor"],
            buckets=LATENCY_BUCKETS, registry=registry)

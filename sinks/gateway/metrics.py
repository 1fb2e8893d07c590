"""The gateway's metrics, declared once, in the registry passed in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bus.metrics import LATENCY_BUCKETS

__all__ = ["GatewayMetrics"]


class GatewayMetrics:
    """Every metric of the availability gateway.

    Args:
        registry: where the metrics register (tests pass a fresh ``CollectorRegistry``).

    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.records = Counter(
            "cultuurbus_gateway_records",
            "Records read from the compacted topics, per topic and outcome "
            "(applied, tombstone, stale, dead_letter).",
            ["topic", "outcome"], registry=registry)
        self.view_size = Gauge("cultuurbus_gateway_view_size",
                               "Performances held in the local view.", ["view"], registry=registry)
        self.consumer_lag = Gauge("cultuurbus_gateway_consumer_lag",
                                  "Records on the broker not yet in the local view.",
                                  ["topic", "partition"], registry=registry)
        self.ready = Gauge("cultuurbus_gateway_ready",
                           "1 once the view has read every partition to its end.", registry=registry)
        self.sse_clients = Gauge("cultuurbus_gateway_sse_clients", "SSE clients connected.",
                                 registry=registry)
        self.sse_events = Counter("cultuurbus_gateway_sse_events_sent",
                                  "SSE events written to clients, per event type.", ["event"],
                                  registry=registry)
        self.sse_dropped = Counter(
            "cultuurbus_gateway_sse_clients_dropped",
            "SSE clients the gateway disconnected, per reason (overflow: too slow).",
            ["reason"], registry=registry)
        self.sse_resets = Counter(
            "cultuurbus_gateway_sse_resets",
            "Resumes whose Last-Event-ID was outside the ring: the client must refetch.",
            registry=registry)
        self.event_age = Histogram(
            "cultuurbus_gateway_event_age_seconds",
            "Age of a change when written to an SSE client: now - the record's updated_at.",
            ["event"], buckets=LATENCY_BUCKETS, registry=registry)
        self.requests = Counter("cultuurbus_gateway_requests",
                                "HTTP requests, per route template, method and status.",
                                ["route", "method", "status"], registry=registry)
        self.request_seconds = Histogram(
            "cultuurbus_gateway_request_duration_seconds",
            "HTTP request duration until the response starts (SSE: until the stream opens).",
            ["route"], buckets=LATENCY_BUCKETS, registry=registry)

"""Metrics of the eventstream poller, declared once in the registry passed in."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = ["EventstreamMetrics"]


class EventstreamMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.skipped = Counter(
            "cultuurbus_eventstream_items_skipped",
            "Eventstream items read but not published, by reason (webshop actions, exits, "
            "drafts, unknown item types).", ["connector", "reason"], registry=registry)
        self.pages = Counter(
            "cultuurbus_eventstream_pages", "Eventstream pages read.", ["connector"],
            registry=registry)

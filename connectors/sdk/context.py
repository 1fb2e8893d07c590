"""Everything a running connector needs, built once from settings at the entry point."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry

from bus.metrics import Health, MetricsServer
from bus.serde import Registry
from bus.settings import Settings
from connectors.sdk.metrics import ConnectorMetrics
from connectors.sdk.positions import PositionStore
from connectors.sdk.privacy import Pseudonymiser
from connectors.sdk.publisher import Publisher
from connectors.sdk.window import EventTimeWindow

__all__ = ["ConnectorContext"]


@dataclass
class ConnectorContext:
    """Lifecycle: ``open()`` builds the publisher and (optionally) serves metrics;
    ``close()`` flushes and stops. Tests pass ``serve_metrics=False`` and a fresh
    registry. The pseudonymiser is built on first use, so a connector that has buyers
    (every ticketing one asks for it at start) fails then with a ``ConfigError`` saying
    how to set the key, and a calendar connector needs none."""

    settings: Settings
    name: str
    serve_metrics: bool = True
    metrics_registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    health: Health = field(default_factory=Health)
    publisher: Publisher = field(init=False)
    positions: PositionStore = field(init=False)
    _pseudonymiser: Pseudonymiser | None = field(init=False, default=None)
    metrics: ConnectorMetrics = field(init=False)
    _server: MetricsServer | None = field(init=False, default=None)

    def open(self) -> ConnectorContext:
        self.metrics = ConnectorMetrics(self.metrics_registry)
        self.publisher = Publisher(self.settings, self.name, self.metrics,
                                   Registry(self.settings.registry))
        self.positions = PositionStore(self.publisher, self.name)
        self.health.add_check("kafka", self.publisher.kafka_reachable)
        if self.serve_metrics:
            self._server = MetricsServer(
                self.metrics_registry, self.settings.connector.metrics_port, health=self.health,
                setting="`cultuurbus connector --metrics-port N <kind>` or "
                        "CULTUURBUS_CONNECTOR__METRICS_PORT").start()
        return self

    @property
    def pseudonymiser(self) -> Pseudonymiser:
        """The deployment's pseudonymiser (``ConfigError`` when no key is set)."""
        if self._pseudonymiser is None:
            self._pseudonymiser = Pseudonymiser.from_settings(self.settings.connector)
        return self._pseudonymiser

    @pseudonymiser.setter
    def pseudonymiser(self, value: Pseudonymiser) -> None:
        self._pseudonymiser = value

    @property
    def window(self) -> EventTimeWindow:
        """The event-time window facts must fall in (checked by receivers before they answer)."""
        return self.publisher.window

    def close(self) -> None:
        self.publisher.close()
        if self._server is not None:
            self._server.close()

    def __enter__(self) -> ConnectorContext:
        return self.open()

    def __exit__(self, *exc: Any) -> None:
        self.close()

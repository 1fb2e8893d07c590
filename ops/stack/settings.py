"""Settings of the local service stack (Kafka, schema registry, ClickHouse, and on
request Prometheus with the consumer-lag exporter).

Read once at the entry point (the ``cultuurbus stack`` CLI or a test fixture) and
passed down; every field can be set from the environment with the
``CULTUURBUS_STACK_`` prefix, e.g. ``CULTUURBUS_STACK_KAFKA_PORT=29092``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["StackSettings"]

LOOPBACK = "127.0.0.1"


class StackSettings(BaseSettings):
    """Where the local stack keeps its state and which loopback ports it binds.

    Attributes:
        dir: Root of all state: data, logs, pid files and generated configs.
        kafka_port: Kafka client (PLAINTEXT) listener.
        kafka_controller_port: KRaft controller listener.
        kafka_heap: Maximum Java heap of the broker (``-Xmx``).
        kafka_partitions_default: ``num.partitions`` for topics created without a count.
        registry_port: HTTP port of the schema registry.
        clickhouse_http_port: ClickHouse HTTP interface (clickhouse-connect talks here).
        clickhouse_tcp_port: ClickHouse native TCP interface.
        prometheus_port: Prometheus web/API listener (``stack up --with-prometheus``).
        lag_exporter_port: ``/metrics`` of the consumer-lag exporter that runs with
            Prometheus (``python -m ops.prometheus.lag_exporter``).
        downloads_dir: Cache of broker jars and the registry distribution; defaults
            to ``<dir>/downloads``. Point several stacks at one cache to download once.

    """

    model_config = SettingsConfigDict(env_prefix="CULTUURBUS_STACK_", frozen=True)

    dir: Path = Path(".stack")
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "1g"
    kafka_partitions_default: int = 3
    registry_port: int = 8081
    clickhouse_http_port: int = 8123
    clickhouse_tcp_port: int = 9000
    prometheus_port: int = 9090
    lag_exporter_port: int = 9409
    downloads_dir: Path | None = None

    @property
    def downloads(self) -> Path:
        """The download cache actually used (``downloads_dir`` or ``<dir>/downloads``)."""
        return self.downloads_dir if self.downloads_dir is not None else self.dir / "downloads"

    @property
    def kafka_bootstrap(self) -> str:
        """``bootstrap.servers`` for clients, e.g. ``127.0.0.1:9092``."""
        return f"{LOOPBACK}:{self.kafka_port}"

    @property
    def registry_url(self) -> str:
        """Base URL of the Confluent-compatible registry API."""
        return f"http://{LOOPBACK}:{self.registry_port}/apis/ccompat/v7"

    @property
    def clickhouse_url(self) -> str:
        """Base URL of the ClickHouse HTTP interface."""
        return f"http://{LOOPBACK}:{self.clickhouse_http_port}"

    @property
    def prometheus_url(self) -> str:
        """Base URL of Prometheus (Grafana's datasource points here)."""
        return f"http://{LOOPBACK}:{self.prometheus_port}"

    @property
    def lag_exporter_address(self) -> str:
        """``host:port`` Prometheus scrapes the consumer-lag exporter at."""
        return f"{LOOPBACK}:{self.lag_exporter_port}"

"""Settings of the local service stack (Kafka, schema registry, ClickHouse, and on
request Prometheus with the consumer-lag exporter).

Read once at the entry point (the ``cultuurbus stack`` CLI or a test fixture) and
passed down; every field can be set from the environment with the
``CULTUURBUS_STACK_`` prefix, e.g. ``CULTUURBUS_STACK_KAFKA_PORT=29092``.

It also says how a principal reaches the stack (``kafka_client``, ``registry_client``,
``client_env``): every role runs as its own principal, with the password the stack made
for it (``ops.stack.secrets``), so a role can be started by hand against the stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from bus.settings import KafkaSettings, RegistrySettings

__all__ = ["ADMIN", "CONTROLLER", "SCRAM_MECHANISM", "StackSettings"]

LOOPBACK = "127.0.0.1"
#: The broker's super user: inter-broker traffic, role bootstrap, the test observer.
ADMIN = "admin"
#: The controller listener's (SASL/PLAIN) user, a super user too.
CONTROLLER = "controller"
SCRAM_MECHANISM: Literal["SCRAM-SHA-512"] = "SCRAM-SHA-512"


class StackSettings(BaseSettings):
    """Where the local stack keeps its state and which loopback ports it binds.

    Attributes:
        dir: Root of all state: data, logs, pid files and generated configs.
        kafka_port: Kafka client (PLAINTEXT) listener.
        kafka_controller_port: KRaft controller listener.
        kafka_security: ``sasl`` (default): clients authenticate with SASL/SCRAM-SHA-512
            on the client listener, the controller listener takes SASL/PLAIN, and the
            authorizer denies what no ACL allows; every role connects as its own principal.
            ``plaintext`` is for a laptop experiment only: it gives up authentication and
            with it every ACL (all clients are the anonymous super user), so any process
            that reaches the port can read every venue's sales and write any topic.
            A data directory formatted under one profile is refused under the other.
        kafka_plaintext_port: Bench only (``bench/security.py``): a PLAINTEXT listener on
            loopback beside the SASL one, where every client is ``User:ANONYMOUS``, made a
            super user, so the bench compares the same broker with and without SASL and
            ACLs in one run. It bypasses every ACL: never set it for a stack people use.
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
    kafka_security: Literal["sasl", "plaintext"] = "sasl"
    kafka_plaintext_port: int | None = None
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

    @property
    def sasl(self) -> bool:
        """Whether clients must authenticate (the ``sasl`` profile)."""
        return self.kafka_security == "sasl"

    def kafka_password(self, principal: str) -> str:
        """The SCRAM password of ``principal`` (secret ``kafka/<principal>``), made on first use."""
        from ops.stack.secrets import StackSecrets

        return StackSecrets(self.dir).get(f"kafka/{principal}")

    def kafka_client(self, principal: str) -> KafkaSettings:
        """How ``principal`` reaches the stack's broker (no SASL in the plaintext profile)."""
        from bus.settings import KafkaSettings

        if not self.sasl:
            return KafkaSettings(bootstrap_servers=self.kafka_bootstrap, client_id=principal)
        return KafkaSettings(bootstrap_servers=self.kafka_bootstrap, client_id=principal,
                             security_protocol="SASL_PLAINTEXT", sasl_mechanism=SCRAM_MECHANISM,
                             sasl_username=principal,
                             sasl_password=SecretStr(self.kafka_password(principal)))

    def registry_client(self, principal: str) -> RegistrySettings:
        """How ``principal`` reaches the stack's schema registry (URL and basic auth)."""
        from bus.settings import RegistrySettings
        from ops.stack.registry_auth import registry_user_info

        return RegistrySettings(url=self.registry_url,
                                basic_auth_user_info=SecretStr(registry_user_info(self.dir, principal)))

    def client_env(self, principal: str) -> dict[str, str]:
        """``CULTUURBUS_KAFKA__*`` and ``CULTUURBUS_REGISTRY__*`` variables that make a role
        connect to this stack as ``principal``."""
        from bus.kafka import kafka_env
        from ops.access.principals import CONNECTOR
        from ops.stack.pseudonym import pseudonym_env
        from ops.stack.registry_auth import registry_user_info

        env = {**kafka_env(self.kafka_client(principal)),
               "CULTUURBUS_REGISTRY__URL": self.registry_url,
               "CULTUURBUS_REGISTRY__BASIC_AUTH_USER_INFO": registry_user_info(self.dir, principal)}
        if principal == CONNECTOR:  # the only role that meets buyers: the stack's pseudonym key
            env.update(pseudonym_env(self.dir))
        return env

"""Typed, frozen settings: env ``CULTUURBUS_*`` (nested with ``__``) and a TOML file.

Built once at the entry point (``load_settings``) and passed down; nothing else reads
the environment.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = [
    "ClickHouseSettings",
    "ConnectorSettings",
    "KafkaSettings",
    "RegistrySettings",
    "GatewaySettings",
    "Settings",
    "SinkSettings",
    "StreamsSettings",
    "load_settings",
]

CONFIG_FILE_ENV = "CULTUURBUS_CONFIG_FILE"
DEFAULT_CONFIG_FILE = Path("cultuurbus.toml")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    """How to reach Kafka. Security fields are ready for a SASL/SCRAM profile."""

    bootstrap_servers: str = "127.0.0.1:9092"
    client_id: str = "cultuurbus"
    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    replication_factor: int = Field(default=1, ge=1)
    request_timeout_ms: int = Field(default=30_000, ge=1000)


class RegistrySettings(_Section):
    """A Confluent-compatible schema registry (Confluent, Karapace, Apicurio ccompat)."""

    url: str = "http://127.0.0.1:8081/apis/ccompat/v7"
    basic_auth_user_info: SecretStr | None = None


class ClickHouseSettings(_Section):
    """ClickHouse: a server URL (http://host:8123) or ``chdb://PATH`` in process."""

    url: str = "http://127.0.0.1:8123"
    database: str = "cultuurbus"


class ConnectorSettings(_Section):
    """Settings every connector shares."""

    buyer_secret: SecretStr = Field(
        default=SecretStr("change-me-per-deployment-0000"),
        description="HMAC key for buyer pseudonyms; set one per deployment.")
    delivery_timeout_s: float = Field(default=15.0, gt=0,
                                      description="How long to wait for Kafka's ack.")
    metrics_port: int = 9401
    http_host: str = "127.0.0.1"
    http_port: int = 8090
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    poll_interval_s: float = Field(default=5.0, gt=0)
    backoff_max_s: float = Field(default=60.0, gt=0)
    event_time_earliest: datetime = Field(
        default=datetime(2000, 1, 1, tzinfo=UTC),
        description="Facts that say they happened before this are refused at the edge.")
    event_time_max_ahead_s: float = Field(
        default=86_400.0, ge=0,
        description="Facts that say they happen more than this many seconds from now are "
                    "refused at the edge (clock skew allowance).")


class StreamsSettings(_Section):
    """The Faust stream processors."""

    app_id: str = "cultuurbus-streams"
    data_dir: Path = Path(".stack/streams")
    web_port: int = Field(default=6066, description="Faust web: /metrics and /healthz.")
    limited_threshold: int = Field(default=10, ge=0,
                                   description="LIMITED when this many seats or fewer remain.")
    lastminute_window_h: float = Field(default=48.0, gt=0)
    lastminute_tick_s: float = Field(default=5.0, gt=0)
    release_tick_s: float = Field(default=0.5, gt=0)
    commit_interval_s: float = Field(default=1.0, gt=0)


class SinkSettings(_Section):
    """The ClickHouse sink."""

    group_id: str = "cultuurbus-sink-clickhouse"
    batch_max_rows: int = Field(default=5000, ge=1)
    batch_max_seconds: float = Field(default=1.0, gt=0)
    metrics_port: int = 9402
    backoff_max_s: float = Field(default=30.0, gt=0)


class GatewaySettings(_Section):
    """The availability gateway (HTTP JSON, SSE, last-minute board)."""

    host: str = "127.0.0.1"
    port: int = 8088
    sse_buffer: int = Field(default=10_000, ge=100,
                            description="Recent changes kept for SSE resume (Last-Event-ID).")
    heartbeat_s: float = Field(default=15.0, gt=0)


class Settings(BaseSettings):
    """Every setting of every role."""

    model_config = SettingsConfigDict(
        env_prefix="CULTUURBUS_",
        env_nested_delimiter="__",
        frozen=True,
        extra="ignore",
    )

    kafka: KafkaSettings = KafkaSettings()
    registry: RegistrySettings = RegistrySettings()
    clickhouse: ClickHouseSettings = ClickHouseSettings()
    connector: ConnectorSettings = ConnectorSettings()
    streams: StreamsSettings = StreamsSettings()
    sink: SinkSettings = SinkSettings()
    gateway: GatewaySettings = GatewaySettings()
    topic_prefix: str = Field(default="", description="Prepended to every topic name.")
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=path),
        )


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Build the settings once: init overrides > env > TOML file > defaults.

    Args:
        config_file: a TOML file; defaults to ``$CULTUURBUS_CONFIG_FILE`` or
            ``./cultuurbus.toml`` when present.
        overrides: field values that win over every source.

    """
    if config_file is not None:
        if not config_file.is_file():
            from bus.errors import ConfigError

            raise ConfigError(f"config file {config_file} does not exist; pass an existing "
                              "TOML file or leave --config out")
        old = os.environ.get(CONFIG_FILE_ENV)
        os.environ[CONFIG_FILE_ENV] = str(config_file)
        try:
            return Settings(**overrides)  # type: ignore[arg-type]
        finally:
            if old is None:
                os.environ.pop(CONFIG_FILE_ENV, None)
            else:
                os.environ[CONFIG_FILE_ENV] = old
    return Settings(**overrides)  # type: ignore[arg-type]

"""Typed, frozen settings: env ``CULTUURBUS_*`` (nested with ``__``) and a TOML file.

Built once at the entry point (``load_settings``) and passed down; nothing else reads
the environment.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from datetime import UTC, datetime
from ipaddress import ip_network
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bus.errors import ConfigError
from bus.settings_check import check_environment, check_toml_keys
from schemas.models import TicketType

__all__ = [
    "ClickHouseSettings",
    "ConnectorSettings",
    "KafkaSettings",
    "REPORT_MIN_BUYERS_FLOOR",
    "RegistrySettings",
    "GatewaySettings",
    "ReportSettings",
    "Settings",
    "SinkSettings",
    "StreamsSettings",
    "WebhookSettings",
    "load_settings",
]

CONFIG_FILE_ENV = "CULTUURBUS_CONFIG_FILE"
_CONFIG_FILE: ContextVar[Path | None] = ContextVar("cultuurbus_config_file", default=None)
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
    compacted_read_ahead_kb: int = Field(
        default=2048, ge=1024, le=2_097_151,
        description="Most kilobytes of records a compacted-topic reader (the gateway's view, the "
                    "identity crosswalk) fetches ahead of what it applied (librdkafka's "
                    "queued.max.messages.kbytes; its default, 65536, cost the gateway ~13 MB more "
                    "peak RSS reading 100,000 performances, and reading was no faster).")


class RegistrySettings(_Section):
    """A Confluent-compatible schema registry (Confluent, Karapace, Apicurio ccompat)."""

    url: str = "http://127.0.0.1:8081/apis/ccompat/v7"
    basic_auth_user_info: SecretStr | None = None
    tenant_user_info: SecretStr | None = Field(
        default=None,
        description="Operators only: the read-only registry login (user:password) that "
                    "`cultuurbus tenant add` writes into a tenant's configuration file.")


class ClickHouseSettings(_Section):
    """ClickHouse: a server URL (http://host:8123) or ``chdb://PATH`` in process."""

    url: str = "http://127.0.0.1:8123"
    database: str = "cultuurbus"


class ConnectorSettings(_Section):
    """Settings every connector shares."""

    tenant: str | None = Field(
        default=None,
        description="The tenant this connector runs as (`cultuurbus tenant add vendor NAME` prints it): "
                    "its facts, dead letters and positions go to its own ingest topics "
                    "(ingest.NAME.ticketing.events, ...), the only ones its credentials may write. "
                    "Unset: the shared topics, for the bus's own trusted connectors.")

    buyer_secret: SecretStr | None = Field(
        default=None,
        description="HMAC key for buyer pseudonyms, one per deployment, kept outside the "
                    "repository and the topics (at least 16 characters); no default: a "
                    "ticketing connector without it (or buyer_secret_file) does not start.")
    buyer_secret_file: Path | None = Field(
        default=None,
        description="A file holding the pseudonym key (e.g. a mounted secret), read at start; "
                    "instead of buyer_secret.")
    buyer_key_id: int = Field(
        default=1, ge=1, le=255,
        description="Which key buyer_secret is: every pseudonym starts with it (two hex "
                    "digits). Give each new key the next id (docs/pseudonyms.md).")
    delivery_timeout_s: float = Field(default=15.0, gt=0,
                                      description="How long to wait for Kafka's ack.")
    metrics_port: int = 9401
    http_host: str = "127.0.0.1"
    http_port: int = 8090
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    body_timeout_s: float = Field(
        default=10.0, gt=0,
        description="How long an HTTP receiver waits for a whole request body; a slower "
                    "body is answered 408.")
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
    declared_drift_seats: int = Field(
        default=5, ge=0, description="Declared and computed remaining seats that differ by more than "
                                     "this are a drift (metric, alert, participation.reconciliation).")
    lastminute_window_h: float = Field(default=48.0, gt=0)
    lastminute_tick_s: float = Field(default=5.0, gt=0)
    release_tick_s: float = Field(default=0.5, gt=0)
    commit_interval_s: float = Field(default=1.0, gt=0)
    match_link_at: float = Field(default=90.0, ge=0, le=100,
                                 description="Identity matching: link automatically from this score.")
    match_review_at: float = Field(default=75.0, ge=0, le=100,
                                   description="Identity matching: ask a person from this score.")
    match_start_tolerance_s: int = Field(default=2700, gt=0,
                                         description="Identity matching: most seconds two starts of one "
                                                     "performance differ (door vs curtain time).")
    domains: tuple[Literal["availability", "attendance", "sales", "lastminute"], ...] = Field(
        default=("availability", "attendance", "sales", "lastminute"), min_length=1,
        description="The fact domains this worker computes (identity always runs). Every worker of one "
                    "app id must compute the same ones; last-minute needs availability.")

    @field_validator("domains")
    @classmethod
    def _lastminute_needs_availability(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if "lastminute" in v and "availability" not in v:
            raise ValueError("lastminute decides offers from availability: add availability to "
                             "streams.domains, or leave lastminute out")
        return tuple(dict.fromkeys(v))


class SinkSettings(_Section):
    """The ClickHouse sink."""

    group_id: str = "cultuurbus-sink-clickhouse"
    batch_max_rows: int = Field(default=5000, ge=1, description=(
        "Rows of one table in one insert at most; a batch is written when one table has this "
        "many, when it covers this many records per table the sink writes, after "
        "batch_max_seconds; the batch after a full one also as soon as the sink has read "
        "everything there is (the tail of a catch-up)."))
    batch_max_seconds: float = Field(default=1.0, gt=0)
    metrics_port: int = 9402
    backoff_max_s: float = Field(default=30.0, gt=0)
    fetch_min_bytes: int = Field(default=256 * 1024, ge=1, description=(
        "The broker answers the sink's fetch once this many bytes are there, or after "
        "fetch_wait_max_ms. With librdkafka's default (1) a sink on a steady few hundred "
        "facts a second fetched every few records."))
    fetch_wait_max_ms: int = Field(default=200, ge=0, le=1000, description=(
        "Longest wait of one fetch for fetch_min_bytes: at most this much later in "
        "ClickHouse, which a batch_max_seconds batch already delays."))


class GatewaySettings(_Section):
    """The availability gateway (HTTP JSON, SSE, last-minute board)."""

    host: str = "127.0.0.1"
    port: int = 8088
    sse_buffer: int = Field(default=10_000, ge=100,
                            description="Recent changes kept for SSE resume (Last-Event-ID).")
    heartbeat_s: float = Field(default=15.0, gt=0)


#: No audience figure (reach by postcode area, first-time vs returning, frequency) is shown
#: for a group of fewer buyers than this, whatever ``report.min_buyers`` says.
REPORT_MIN_BUYERS_FLOOR = 5


class ReportSettings(_Section):
    """The report commands: who is asking, and how small an audience group may be shown."""

    token: SecretStr | None = Field(
        default=None, description="The caller's API token (from `cultuurbus tenant add`); "
                                  "`--token` wins. Reports show only what its tenant may see.")
    min_buyers: int = Field(
        default=10, ge=REPORT_MIN_BUYERS_FLOOR,
        description="Audience groups with fewer distinct buyers are suppressed (named, no figures).")
    directory_timeout_s: float = Field(
        default=15.0, gt=0, description="How long to read the tenant directory before refusing.")


class WebhookSettings(_Section):
    """The webhook receiver: how each account's deliveries are authenticated, and mapping
    options. Credentials are keyed ``"vendor/account"`` (one account) or ``"vendor"``
    (every account of that vendor); the map an account's credential is in is its mode
    (``connectors.ticketing.webhook.auth``)::

        CULTUURBUS_WEBHOOK__URL_TOKENS='{"stager/acme": "long-random-token"}'
        CULTUURBUS_WEBHOOK__OPENTICKET_NONCES='{"eventix/acme": "nonce-from-the-webhook"}'
        CULTUURBUS_WEBHOOK__SECRETS='{"eventix/relayed": "s3cret", "stager": "s3cret"}'
        CULTUURBUS_WEBHOOK__EVENTBRITE_TOKENS='{"acme": "PRIVATE_OAUTH_TOKEN"}'
        CULTUURBUS_WEBHOOK__STAGER_ALLOW_FROM='["203.0.113.0/24"]'
        CULTUURBUS_WEBHOOK__STRICT_TICKET_TYPES=true
        CULTUURBUS_WEBHOOK__TICKET_TYPES='{"Passe-partout": "DISCOUNT"}'
    """

    secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Mode hmac: HMAC-SHA256 keys (X-Signature), keyed "vendor/account" or '
                    '"vendor", for signing relays and vendors that can sign.')
    url_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Mode url-token: the secret last path segment of the delivery URL '
                    '(POST /webhooks/{vendor}/{account}/{token}), keyed "vendor/account" or '
                    '"vendor".')
    openticket_nonces: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='Mode openticket-nonce (Eventix/OpenTicket only): the nonce of the '
                    "webhook's creation response, sent back as the OpenTicket-Identifier "
                    'header; keyed "eventix/account" or "eventix".')
    stager_allow_from: tuple[str, ...] = Field(
        default=(),
        description="CIDRs Stager deliveries must come from (the TCP peer address), on top "
                    "of their mode; empty: any address.")
    eventbrite_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Eventbrite private OAuth tokens per account (or under \"*\"), sent as "
                    "Bearer when fetching the api_url of a delivery.")
    eventbrite_api_hosts: tuple[str, ...] = Field(
        default=("www.eventbriteapi.com",),
        description="Hosts (host or host:port) an Eventbrite api_url may point to; anything "
                    "else is refused so a delivery cannot make the receiver fetch arbitrary URLs.")
    fetch_timeout_s: float = Field(default=5.0, gt=0, description="Per attempt, Eventbrite fetch.")
    fetch_attempts: int = Field(default=3, ge=1, le=10,
                                description="Attempts per Eventbrite fetch before answering 503.")
    ticket_types: dict[str, TicketType] = Field(
        default_factory=dict,
        description="Exact vendor ticket type names (case-insensitive) -> ticket type; wins "
                    "over the built-in keyword rules.")
    strict_ticket_types: bool = Field(
        default=False,
        description="Refuse (422 + dead letter) a ticket type no mapping or rule knows, "
                    "instead of counting it as OTHER.")
    id_fields: dict[str, str] = Field(
        default_factory=lambda: {"dip": "dip_id", "uit": "uit_id"},
        description="Sector id namespace (dip, uit) -> the vendor's custom event field holding "
                    "it: a DIP id (production|number), a UiTdatabank id (uuid, uuid#subEvent or "
                    "a UiT URL; an event id alone is matched on the vendor's start time).")
    account_id_fields: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per account, keyed \"vendor/account\" (eventix or stager): its own "
                    "namespace -> custom field map, used instead of id_fields for that account "
                    "(each venue names its fields as it likes), e.g. "
                    "{\"eventix/acme\": {\"dip\": \"productie_dip\"}}.")
    dedupe_size: int = Field(default=100_000, ge=1,
                             description="Delivery keys remembered for replay detection.")
    dedupe_ttl_s: float = Field(default=7 * 24 * 3600.0, gt=0,
                                description="How long a delivery key is remembered.")

    @field_validator("id_fields")
    @classmethod
    def _id_namespaces(cls, value: dict[str, str]) -> dict[str, str]:
        for ns, name in value.items():
            if ns not in ("dip", "uit") or not name.strip():
                raise ValueError(f"id_fields {ns}={name!r}: the key must be dip or uit and the "
                                 "field name non-empty, e.g. {\"uit\": \"c_uitdatabankid\"}")
        return value

    @field_validator("account_id_fields")
    @classmethod
    def _account_id_fields(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for key, fields in value.items():
            vendor, sep, account = key.partition("/")
            if not sep or vendor not in ("eventix", "stager") or not account:
                raise ValueError(f"account_id_fields key {key!r} must be \"vendor/account\" with "
                                 "vendor eventix or stager (the vendors with custom fields)")
            cls._id_namespaces(fields)
        return value

    @field_validator("stager_allow_from")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not an IP network; write CIDRs such as "
                                 "203.0.113.0/24 or 2001:db8::/32") from None
        return value

    def secret_for(self, vendor: str, account: str) -> SecretStr | None:
        """The key of ``vendor/account``, else of ``vendor``, else None."""
        return self.secrets.get(f"{vendor}/{account}") or self.secrets.get(vendor)

    def eventbrite_token(self, account: str) -> SecretStr | None:
        return self.eventbrite_tokens.get(account) or self.eventbrite_tokens.get("*")


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
    webhook: WebhookSettings = WebhookSettings()
    report: ReportSettings = ReportSettings()
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
        path = config_file_path()
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=path),
        )


def config_file_path() -> Path:
    """The TOML file settings are read from: the one ``load_settings`` was given, else
    ``$CULTUURBUS_CONFIG_FILE``, else ``./cultuurbus.toml`` (used when it exists)."""
    given = _CONFIG_FILE.get()
    if given is not None:
        return given
    return Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Build the settings once: init overrides > env > TOML file > defaults.

    A key in the TOML file or a ``CULTUURBUS_*`` variable that names no setting is an
    error naming the nearest valid one (a typo must not silently leave a default).

    Args:
        config_file: a TOML file; defaults to ``$CULTUURBUS_CONFIG_FILE`` or
            ``./cultuurbus.toml`` when present.
        overrides: field values that win over every source.

    Raises:
        ConfigError: the file is missing, or a key or variable is unknown.

    """
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"config file {config_file} does not exist; pass an existing "
                          "TOML file or leave --config out")
    token = _CONFIG_FILE.set(config_file)
    try:
        path = config_file_path()
        if path.is_file():
            check_toml_keys(Settings, path)
        check_environment(Settings, os.environ)
        return Settings(**overrides)  # type: ignore[arg-type]
    finally:
        _CONFIG_FILE.reset(token)

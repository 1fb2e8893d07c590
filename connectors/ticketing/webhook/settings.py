"""Settings of the webhook receiver: per-vendor secrets and mapping options.

Read from the environment with the ``CULTUURBUS_WEBHOOK__`` prefix (nested with ``__``),
or built by the CLI from its options. Secrets are keyed ``"vendor/account"`` (one
account) or ``"vendor"`` (every account of that vendor)::

    CULTUURBUS_WEBHOOK__SECRETS='{"eventix/acme": "s3cret-of-acme", "stager": "s3cret"}'
    CULTUURBUS_WEBHOOK__EVENTBRITE_TOKENS='{"acme": "PRIVATE_OAUTH_TOKEN"}'
    CULTUURBUS_WEBHOOK__STRICT_TICKET_TYPES=true
    CULTUURBUS_WEBHOOK__TICKET_TYPES='{"Passe-partout": "DISCOUNT"}'
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.models import TicketType

__all__ = ["WebhookSettings"]


class WebhookSettings(BaseSettings):
    """What the receiver needs beyond the shared ``connector`` settings section."""

    model_config = SettingsConfigDict(env_prefix="CULTUURBUS_WEBHOOK__", env_nested_delimiter="__",
                                      frozen=True, extra="forbid")

    secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description='HMAC-SHA256 keys, keyed "vendor/account" or "vendor"; a delivery to an '
                    "account without a key is refused.")
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
    dip_field: str = Field(default="dip_id",
                           description="Name of the vendor's custom event field holding the "
                                       "DIP id (production|number).")
    uit_field: str = Field(default="uit_id",
                           description="Name of the custom event field holding the UiTdatabank "
                                       "event id (uuid or uuid#subEvent).")
    dedupe_size: int = Field(default=100_000, ge=1,
                             description="Delivery keys remembered for replay detection.")
    dedupe_ttl_s: float = Field(default=7 * 24 * 3600.0, gt=0,
                                description="How long a delivery key is remembered.")

    def secret_for(self, vendor: str, account: str) -> SecretStr | None:
        """The key of ``vendor/account``, else of ``vendor``, else None."""
        return self.secrets.get(f"{vendor}/{account}") or self.secrets.get(vendor)

    def eventbrite_token(self, account: str) -> SecretStr | None:
        return self.eventbrite_tokens.get(account) or self.eventbrite_tokens.get("*")

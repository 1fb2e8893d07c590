"""Tenants: who may put what on the bus and who may see what comes out of it.

A tenant is a ticketing vendor account, a venue, a producer, an app or an analyst. The
tenant directory is the compacted topic ``access.tenants`` (key: tenant name, value: the
JSON of :class:`Tenant`), written only by ``cultuurbus tenant`` (the ops principal) and
read by the roles that enforce it: the streams worker (which venues and performances a
vendor's facts may be about), the gateway and the reports (which token is whose, and what
it may see). Roles meet on that topic; none imports another.

What is *not* in the directory: passwords (SCRAM credentials live only in the broker) and
API tokens (only their SHA-256; the token itself is printed once by ``tenant add``).

A vendor tenant writes only to its own ingest topics, ``<prefix>ingest.<tenant>.<family>``
(family: ``ticketing.events``, ``ticketing.snapshots``, ``calendar.performances``); the
broker enforces that with a PREFIXED ACL on ``<prefix>ingest.<tenant>.``. The trailing dot
matters: tenant ``acme`` must not match ``acme-north``'s topics. So the topic a fact arrives
on names its sender (:func:`tenant_of_topic`), and no header can forge it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal, get_args

from bus.errors import ConfigError

__all__ = [
    "INGEST_FAMILIES",
    "KINDS",
    "Kind",
    "Tenant",
    "TenantDirectory",
    "TenantError",
    "check_name",
    "hash_token",
    "ingest_prefix",
    "ingest_topic",
    "new_secret",
    "principal_of",
    "tenant_of_topic",
    "tenant_owned_topics",
    "tenant_topic",
]

Kind = Literal["vendor", "venue", "producer", "app", "analyst"]
KINDS: tuple[str, ...] = get_args(Kind)

#: The topic families a vendor tenant writes, each under its own ingest prefix. Their
#: schema, key and layout are those of the catalog entry of the same name (bus/topics.py).
INGEST_FAMILIES: tuple[str, ...] = ("ticketing.events", "ticketing.snapshots",
                                    "calendar.performances")

_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_PRINCIPAL_PREFIX = "tenant-"


class TenantError(ConfigError):
    """A tenant name, record or request is not valid; the message says what to do."""


def check_name(name: str) -> str:
    """``name`` if it is a valid tenant name (lower-case letters, digits and inner dashes,
    at most 40 characters), else :class:`TenantError`."""
    if not _NAME.match(name):
        raise TenantError(f"tenant name {name!r} is not valid: use 1-40 lower-case letters, "
                          "digits and inner dashes, e.g. eventix-acme or stadsschouwburg")
    return name


def principal_of(name: str) -> str:
    """The Kafka user of a tenant (``tenant-<name>``); its ACL principal is ``User:`` + it."""
    return _PRINCIPAL_PREFIX + check_name(name)


def ingest_prefix(name: str, topic_prefix: str = "") -> str:
    """Every ingest topic of tenant ``name`` starts with this (dot included)."""
    return f"{topic_prefix}ingest.{check_name(name)}."


def ingest_topic(name: str, family: str, topic_prefix: str = "") -> str:
    """The ingest topic of ``family`` (one of :data:`INGEST_FAMILIES`) for tenant ``name``."""
    if family not in INGEST_FAMILIES:
        raise TenantError(f"{family!r} is not an ingest topic family; one of "
                          f"{', '.join(INGEST_FAMILIES)}")
    return ingest_prefix(name, topic_prefix) + family


#: Topics a vendor's connector writes under its own ingest prefix when it runs as a tenant:
#: its facts, their dead letters, and its source positions (cursors).
_TENANT_OWNED: frozenset[str] = frozenset(
    [*INGEST_FAMILIES, *(f + ".dlq" for f in INGEST_FAMILIES), "connect.positions"])


def tenant_topic(name: str, tenant: str | None, topic_prefix: str = "") -> str:
    """The topic a connector writes catalog topic ``name`` to: under its tenant's ingest
    prefix when it runs as ``tenant`` and the topic is one a tenant owns, else the shared
    ``<topic_prefix><name>``."""
    if tenant and name in _TENANT_OWNED:
        return ingest_prefix(tenant, topic_prefix) + name
    return topic_prefix + name


def tenant_owned_topics() -> tuple[str, ...]:
    """The catalog names a tenant has its own copy of (see :func:`tenant_topic`)."""
    return tuple(sorted(_TENANT_OWNED))


def tenant_of_topic(topic: str, topic_prefix: str = "") -> tuple[str, str] | None:
    """``(tenant, family)`` when ``topic`` is an ingest topic, else None."""
    head = f"{topic_prefix}ingest."
    if not topic.startswith(head):
        return None
    tenant, dot, family = topic[len(head):].partition(".")
    if not dot or family not in INGEST_FAMILIES or not _NAME.match(tenant):
        return None
    return tenant, family


def new_secret(nbytes: int = 32) -> str:
    """A random URL-safe secret (passwords, API tokens, webhook tokens)."""
    return secrets.token_urlsafe(nbytes)


def hash_token(token: str) -> str:
    """The SHA-256 (hex) of an API token: what the directory keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Tenant:
    """One tenant as the directory keeps it.

    ``venues`` and ``productions`` are what the tenant is registered for: ids as the bus's
    facts carry them (a venue id as the calendars publish it, a DIP production number).
    A vendor's facts are accepted only for these; a venue's or producer's reports show
    only these.
    """

    name: str
    kind: Kind
    venues: tuple[str, ...] = ()
    productions: tuple[str, ...] = ()
    token_sha256: str | None = None
    revoked: bool = False
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        check_name(self.name)
        if self.kind not in KINDS:
            raise TenantError(f"tenant {self.name}: kind {self.kind!r} is not one of "
                              f"{', '.join(KINDS)}")

    @property
    def principal(self) -> str:
        return principal_of(self.name)

    def verify_token(self, token: str) -> bool:
        """Whether ``token`` is this tenant's API token (constant-time; never for a revoked
        tenant)."""
        return (not self.revoked and self.token_sha256 is not None
                and hmac.compare_digest(self.token_sha256, hash_token(token)))

    def owns_venue(self, venue_id: str | None) -> bool:
        return venue_id is not None and venue_id in self.venues

    def owns_production(self, production_id: str | None) -> bool:
        return production_id is not None and production_id in self.productions

    def changed(self, **updates: object) -> Tenant:
        """A copy with ``updates`` and a new ``updated_at``."""
        return replace(self, **updates, updated_at=_now())  # type: ignore[arg-type]

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Tenant:
        """Parse a directory record; :class:`TenantError` says what is wrong with it."""
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise TenantError(f"tenant record is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise TenantError("tenant record is not a JSON object")
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise TenantError(f"tenant record has unknown fields {sorted(unknown)}; "
                              f"known: {sorted(known)}")
        try:
            data["venues"] = tuple(data.get("venues", ()))
            data["productions"] = tuple(data.get("productions", ()))
            return cls(**data)
        except TypeError as exc:
            raise TenantError(f"tenant record is incomplete: {exc}") from None


class TenantDirectory:
    """The tenants as last read from ``access.tenants``: by name and by API token.

    Fed by a compacted reader (``apply``: one record; a tombstone deletes); a revoked
    tenant stays listed (for audit) but matches no token and owns nothing.
    """

    def __init__(self, tenants: Iterable[Tenant] = ()) -> None:
        self._by_name: dict[str, Tenant] = {}
        self._by_token: dict[str, str] = {}
        for t in tenants:
            self.put(t)

    def put(self, tenant: Tenant) -> None:
        old = self._by_name.get(tenant.name)
        if old is not None and old.token_sha256:
            self._by_token.pop(old.token_sha256, None)
        self._by_name[tenant.name] = tenant
        if tenant.token_sha256 and not tenant.revoked:
            self._by_token[tenant.token_sha256] = tenant.name

    def remove(self, name: str) -> None:
        old = self._by_name.pop(name, None)
        if old is not None and old.token_sha256:
            self._by_token.pop(old.token_sha256, None)

    def apply(self, key: bytes | None, value: bytes | None) -> None:
        """Apply one record of ``access.tenants`` (raises :class:`TenantError` on a bad one)."""
        if key is None:
            raise TenantError("tenant record without a key; the key is the tenant name")
        name = key.decode()
        if value is None:
            self.remove(name)
            return
        tenant = Tenant.from_json(value)
        if tenant.name != name:
            raise TenantError(f"tenant record keyed {name!r} describes {tenant.name!r}")
        self.put(tenant)

    def get(self, name: str) -> Tenant | None:
        return self._by_name.get(name)

    def active(self, name: str) -> Tenant | None:
        """The tenant if it exists and is not revoked."""
        t = self._by_name.get(name)
        return t if t is not None and not t.revoked else None

    def by_token(self, token: str) -> Tenant | None:
        """The (not revoked) tenant whose API token this is, else None."""
        name = self._by_token.get(hash_token(token))
        return self.active(name) if name is not None else None

    def all(self) -> list[Tenant]:
        return sorted(self._by_name.values(), key=lambda t: t.name)

    def as_mapping(self) -> Mapping[str, Tenant]:
        return dict(self._by_name)

"""What ``cultuurbus tenant`` and ``cultuurbus access apply`` do, without the command line.

Adding a tenant:
1. its Kafka user ``tenant-<name>`` gets a SCRAM-SHA-512 credential (Admin API);
2. a vendor gets its ingest topics (``ingest.<name>.<family>``, laid out like the shared
   topic of the family) and their schemas registered, so its read-only connector only
   looks them up;
3. its ACLs are reconciled with what the data-product catalog grants its kind;
4. its record (kind, venues, productions, its API token's SHA-256) is written to the
   directory ``access.tenants``, which the worker, the reports and the gateway follow.
The password and the API token are returned once and kept nowhere else.

Revoking: ACLs removed first (the broker checks them on every request, so an open
connection is refused at its next request), then the credential deleted (no new
connection), then the record marked revoked (its token stops working, the worker
dead-letters its facts). Nothing of other tenants is touched.

Perf notes: none of this is on a hot path; every step waits for the broker's answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from confluent_kafka.admin import AclBinding, AdminClient, ResourceType

from bus.directory import read_directory, write_tenant
from bus.serde import Registry, subject_for
from bus.settings import Settings
from bus.tenants import (
    INGEST_FAMILIES,
    Kind,
    Tenant,
    TenantDirectory,
    TenantError,
    check_name,
    hash_token,
    ingest_prefix,
    new_secret,
    tenant_owned_topics,
)
from bus.topics import apply_catalog, spec
from ops.access.acls import AclChange, delete_scram, reconcile, upsert_scram
from ops.catalog.grants import tenant_bindings

__all__ = ["Issued", "access_apply", "add_tenant", "revoke_tenant", "rotate_tenant", "wanted_bindings"]


@dataclass(frozen=True)
class Issued:
    """A tenant and the secrets just issued to it (shown once, stored nowhere)."""

    tenant: Tenant
    password: str
    token: str
    webhook: tuple[str, str] | None = None  # ("vendor/account", url token)
    changes: tuple[AclChange, ...] = ()


def _principal(t: Tenant) -> str:
    return "User:" + t.principal


def _ingest_topics(admin: AdminClient, settings: Settings, name: str) -> None:
    """The tenant's own topics (facts, dead letters, positions), laid out like the shared ones."""
    apply_catalog(admin, ingest_prefix(name, settings.topic_prefix), settings.kafka.replication_factor,
                  catalog=[spec(t) for t in tenant_owned_topics()])
    families = [spec(f) for f in INGEST_FAMILIES]
    from schemas import load_schema

    registry = Registry(settings.registry)
    for f in families:
        if f.value_schema:
            topic = ingest_prefix(name, settings.topic_prefix) + f.name
            registry.register(subject_for(topic), load_schema(f.value_schema))


def _grant(admin: AdminClient, settings: Settings, tenant: Tenant) -> tuple[AclChange, ...]:
    wanted = tenant_bindings(tenant, settings.topic_prefix)
    return tuple(reconcile(admin, wanted, [_principal(tenant)]))


def add_tenant(settings: Settings, admin: AdminClient, kind: Kind, name: str, *,
               venues: Sequence[str] = (), productions: Sequence[str] = (),
               webhook: str | None = None) -> Issued:
    """Create tenant ``name``; :class:`TenantError` when it exists (use rotate) or is invalid."""
    check_name(name)
    directory = read_directory(settings.kafka, settings.topic_prefix)
    old = directory.get(name)
    if old is not None and not old.revoked:
        raise TenantError(f"tenant {name} exists ({old.kind}); `cultuurbus tenant rotate {name}` "
                          "issues new credentials, `revoke` ends it")
    if kind in ("venue", "producer") and not (venues or productions):
        raise TenantError(f"a {kind} tenant sees only its own figures: give --venue or --production")
    if kind == "vendor" and not (venues or productions):
        raise TenantError("a vendor tenant's facts are accepted only for the venues and productions "
                          "it is registered for: give --venue or --production")
    if webhook is not None and (kind != "vendor" or webhook.count("/") != 1):
        raise TenantError("--webhook VENDOR/ACCOUNT is for vendor tenants, e.g. --webhook eventix/acme")
    password, token = new_secret(), new_secret()
    tenant = Tenant(name, kind, tuple(dict.fromkeys(venues)), tuple(dict.fromkeys(productions)),
                    token_sha256=hash_token(token))
    upsert_scram(admin, tenant.principal, password)
    if kind == "vendor":
        _ingest_topics(admin, settings, name)
    changes = _grant(admin, settings, tenant)
    write_tenant(settings.kafka, settings.topic_prefix, tenant)
    hook = (webhook, new_secret()) if webhook else None
    return Issued(tenant, password, token, hook, changes)


def _existing(settings: Settings, name: str) -> Tenant:
    tenant = read_directory(settings.kafka, settings.topic_prefix).get(check_name(name))
    if tenant is None:
        raise TenantError(f"no tenant {name} in the directory; `cultuurbus tenant list` shows them")
    return tenant


def rotate_tenant(settings: Settings, admin: AdminClient, name: str) -> Issued:
    """New password and API token for ``name``; the old ones stop working."""
    tenant = _existing(settings, name)
    if tenant.revoked:
        raise TenantError(f"tenant {name} is revoked; add it again with `cultuurbus tenant add`")
    password, token = new_secret(), new_secret()
    upsert_scram(admin, tenant.principal, password)
    tenant = tenant.changed(token_sha256=hash_token(token))
    changes = _grant(admin, settings, tenant)
    write_tenant(settings.kafka, settings.topic_prefix, tenant)
    return Issued(tenant, password, token, None, changes)


def revoke_tenant(settings: Settings, admin: AdminClient, name: str) -> tuple[Tenant, list[AclChange]]:
    """End ``name``'s access: ACLs, credential, token; its record stays, marked revoked."""
    tenant = _existing(settings, name)
    changes = reconcile(admin, [], [_principal(tenant)])
    delete_scram(admin, tenant.principal)
    tenant = tenant.changed(revoked=True, token_sha256=None)
    write_tenant(settings.kafka, settings.topic_prefix, tenant)
    return tenant, changes


def wanted_bindings(settings: Settings, directory: TenantDirectory) -> tuple[list[AclBinding], list[str]]:
    """Every binding the catalog grants (roles and tenants) and the principals they cover."""
    from ops.access.principals import ROLE_PRINCIPALS, role_bindings

    wanted = list(role_bindings(settings.topic_prefix, settings))
    managed = ["User:" + p for p in ROLE_PRINCIPALS]
    for t in directory.all():
        managed.append(_principal(t))
        if not t.revoked:
            wanted.extend(tenant_bindings(t, settings.topic_prefix))
    return wanted, managed


def access_apply(settings: Settings, admin: AdminClient, *,
                 extra_principals: Iterable[str] = ()) -> list[AclChange]:
    """Make the broker's ACLs what the catalog grants; idempotent (a second run changes nothing)."""
    directory = read_directory(settings.kafka, settings.topic_prefix)
    wanted, managed = wanted_bindings(settings, directory)
    prefix = settings.topic_prefix

    def owns(b: AclBinding) -> bool:
        # Bindings of another deployment sharing the broker under another topic prefix
        # (and so another tenant directory) are not this catalog's to remove.
        return b.restype == ResourceType.BROKER or b.name.startswith(prefix)

    return reconcile(admin, wanted, [*managed, *extra_principals], owns=owns)

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

``access apply`` also looks past the directory: a ``User:tenant-*`` principal with bindings
on this deployment's resources but no record (the record lost, or a grant made by hand)
is reconciled to nothing there. Its SCRAM credential is only reported, never deleted:
deployments sharing a broker under other topic prefixes share its users, and nothing
tells whose a credential is.

Perf notes: none of this is on a hot path; every step waits for the broker's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
from ops.access.acls import (
    AclChange,
    all_bindings,
    delete_scram,
    reconcile,
    scram_users,
    upsert_scram,
)
from ops.catalog.grants import tenant_bindings

__all__ = ["TENANT_PRINCIPALS", "Applied", "Issued", "access_apply", "add_tenant", "orphans", "owned_by",
           "revoke_tenant", "rotate_tenant", "stray_credentials", "wanted_bindings"]

#: What every tenant's ACL principal starts with: ``User:`` + ``bus.tenants.principal_of``.
TENANT_PRINCIPALS = "User:tenant-"


@dataclass(frozen=True)
class Issued:
    """A tenant and the secrets just issued to it (shown once, stored nowhere)."""

    tenant: Tenant
    password: str
    token: str
    webhook: tuple[str, str] | None = None  # ("vendor/account", url token)
    changes: tuple[AclChange, ...] = ()


@dataclass(frozen=True)
class Applied:
    """What ``access apply`` changed, and what it found but leaves to a person (one line each)."""

    changes: list[AclChange]
    notices: list[str]


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


def owned_by(prefix: str) -> Callable[[AclBinding], bool]:
    """Whether a binding is this deployment's to remove when nothing grants it."""

    def owns(b: AclBinding) -> bool:
        # Bindings of another deployment sharing the broker under another topic prefix
        # (and so another tenant directory) are not this catalog's to remove.
        return b.restype == ResourceType.BROKER or b.name.startswith(prefix)

    return owns


def orphans(bindings: Iterable[AclBinding], managed: Iterable[str],
            owns: Callable[[AclBinding], bool]) -> list[str]:
    """Tenant principals that hold a binding this deployment ``owns`` but are not
    ``managed`` (no record in its directory), sorted. The catalog grants them nothing, so
    reconciling them removes exactly those bindings; the ones they hold on another
    prefix's resources are that deployment's to judge."""
    known = set(managed)
    return sorted({b.principal for b in bindings
                   if b.principal.startswith(TENANT_PRINCIPALS) and b.principal not in known and owns(b)})


def stray_credentials(users: Iterable[str], directory: TenantDirectory,
                      bindings: Iterable[AclBinding]) -> list[str]:
    """One line for each ``tenant-*`` SCRAM user with no record in ``directory`` and no
    binding anywhere: it can log in and do nothing. Reported, not deleted: another
    deployment on the same broker may have issued it and grant it nothing on Kafka."""
    recorded = {t.principal for t in directory.all()}
    bound = {b.principal for b in bindings}
    tenant_user = TENANT_PRINCIPALS.removeprefix("User:")
    return [f"{u} has a Kafka credential but no tenant record and no ACLs: it can log in and "
            f"do nothing; if it is not another deployment's, delete it with `kafka-configs.sh "
            f"--alter --entity-type users --entity-name {u} --delete-config SCRAM-SHA-512` "
            f"(plus --bootstrap-server and the ops principal's --command-config)"
            for u in sorted(users)
            if u.startswith(tenant_user) and u not in recorded and "User:" + u not in bound]


def access_apply(settings: Settings, admin: AdminClient, *,
                 extra_principals: Iterable[str] = ()) -> Applied:
    """Make the broker's ACLs what the catalog grants, for the directory's tenants and for
    tenant principals missing from it (:func:`orphans`); idempotent (a second run changes
    nothing). Credentials left with no record and no binding come back as notices."""
    directory = read_directory(settings.kafka, settings.topic_prefix)
    wanted, managed = wanted_bindings(settings, directory)
    owns = owned_by(settings.topic_prefix)
    managed = [*managed, *extra_principals]
    managed += orphans(all_bindings(admin), managed, owns)
    changes = reconcile(admin, wanted, managed, owns=owns)
    # Described again: reconcile waited until the broker shows its removals.
    notices = stray_credentials(scram_users(admin), directory, all_bindings(admin))
    return Applied(changes, notices)

"""Which tenant principals `access apply` treats as orphans, and which credentials it reports."""

from __future__ import annotations

from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from bus.tenants import Tenant, TenantDirectory, principal_of
from ops.tenants.service import TENANT_PRINCIPALS, orphans, owned_by, stray_credentials

PREFIX = "t1."


def _read(principal: str, topic: str, restype: ResourceType = ResourceType.TOPIC) -> AclBinding:
    return AclBinding(restype, topic, ResourcePatternType.LITERAL, principal, "*", AclOperation.READ,
                      AclPermissionType.ALLOW)


def test_tenant_principals_are_recognised_by_their_prefix() -> None:
    assert ("User:" + principal_of("acme")).startswith(TENANT_PRINCIPALS)


def test_an_unrecorded_tenant_with_a_binding_here_is_an_orphan_and_nobody_else_is() -> None:
    bindings = [
        _read("User:tenant-gone", PREFIX + "availability"),          # here, no record: orphan
        _read("User:tenant-cluster", "kafka-cluster", ResourceType.BROKER),  # the cluster is shared
        _read("User:tenant-elsewhere", "t2.availability"),         # another prefix's tenant
        _read("User:tenant-known", PREFIX + "availability"),       # in the directory
        _read("User:cultuurbus-sink", PREFIX + "facts"),           # a role, not a tenant
        _read("User:someone", PREFIX + "facts"),                   # not a tenant principal
    ]
    found = orphans(bindings, ["User:tenant-known", "User:cultuurbus-sink"], owned_by(PREFIX))
    assert found == ["User:tenant-cluster", "User:tenant-gone"]


def test_only_an_unrecorded_tenant_credential_with_no_binding_anywhere_is_reported() -> None:
    directory = TenantDirectory([Tenant("known", "app")])
    users = ["tenant-known", "tenant-bound", "tenant-stray", "cultuurbus-sink"]
    bindings = [_read("User:tenant-bound", "t2.availability")]  # bound under another prefix
    notices = stray_credentials(users, directory, bindings)
    assert len(notices) == 1
    assert notices[0].startswith("tenant-stray has a Kafka credential but no tenant record and no ACLs")
    assert "--entity-name tenant-stray --delete-config SCRAM-SHA-512" in notices[0]

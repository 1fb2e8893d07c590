"""The Kafka ACL bindings the catalog's grants give each tenant."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from bus.tenants import KINDS, Tenant
from bus.topics import ATTENDANCE, FACTS, LASTMINUTE, SALES, SNAPSHOTS, TENANTS, TICKET_EVENTS
from ops.catalog.grants import group_prefix, tenant_bindings

PREFIX = "dev."
TOPIC, GROUP = ResourceType.TOPIC, ResourceType.GROUP
LITERAL, PREFIXED = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
READ, WRITE, DESCRIBE = AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE


def _rows(bindings: list[AclBinding]) -> set[tuple[object, ...]]:
    return {(b.restype, b.name, b.resource_pattern_type, b.operation) for b in bindings}


def test_vendor_writes_only_its_own_ingest_topics() -> None:
    bindings = tenant_bindings(Tenant("acme", "vendor"), PREFIX)
    assert _rows(bindings) == {(TOPIC, "dev.ingest.acme.", PREFIXED, WRITE),
                               (TOPIC, "dev.ingest.acme.", PREFIXED, DESCRIBE)}
    assert {(b.principal, b.host, b.permission_type) for b in bindings} == {
        ("User:tenant-acme", "*", AclPermissionType.ALLOW)}


def test_app_reads_availability_and_lastminute_in_its_own_groups() -> None:
    rows = _rows(tenant_bindings(Tenant("uitapp", "app"), PREFIX))
    assert rows == {
        (TOPIC, "dev.participation.availability", LITERAL, READ),
        (TOPIC, "dev.participation.availability", LITERAL, DESCRIBE),
        (TOPIC, "dev." + LASTMINUTE, LITERAL, READ),
        (TOPIC, "dev." + LASTMINUTE, LITERAL, DESCRIBE),
        (GROUP, "dev.tenant-uitapp.", PREFIXED, READ),
    }


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "analyst"])
def test_no_tenant_but_analysts_reads_raw_facts(kind: str) -> None:
    names = {b.name for b in tenant_bindings(Tenant("t", kind), PREFIX)}  # type: ignore[arg-type]
    assert not names & {PREFIX + t for t in (FACTS, TICKET_EVENTS, SNAPSHOTS)}


@pytest.mark.parametrize("kind", KINDS)
def test_no_tenant_reads_raw_facts_only_the_bus_own_analytics_roles_do(kind: str) -> None:
    names = {b.name for b in tenant_bindings(Tenant("institute", kind), PREFIX)}  # type: ignore[arg-type]
    assert not names & {PREFIX + t for t in (FACTS, TICKET_EVENTS, SNAPSHOTS)}


@pytest.mark.parametrize("kind", KINDS)
def test_owner_only_topics_mixing_venues_and_the_directory_go_to_no_tenant(kind: str) -> None:
    names = {b.name for b in tenant_bindings(Tenant("t", kind), PREFIX)}  # type: ignore[arg-type]
    assert not names & {PREFIX + t for t in (SALES, ATTENDANCE, TENANTS)}
    assert not any(b.operation == WRITE and not b.name.startswith("dev.ingest.t.")
                   for b in tenant_bindings(Tenant("t", kind), PREFIX))  # type: ignore[arg-type]


def test_revoked_tenant_has_no_bindings() -> None:
    assert tenant_bindings(Tenant("uitapp", "app", revoked=True), PREFIX) == []
    assert tenant_bindings(Tenant("acme", "vendor", revoked=True), PREFIX) == []


def test_group_prefix_does_not_cover_a_longer_tenant_name() -> None:
    assert group_prefix("app", "") == "tenant-app."
    assert not "tenant-app-2.board".startswith(group_prefix("app", ""))


def test_bindings_are_sorted_and_unique() -> None:
    bindings = tenant_bindings(Tenant("institute", "analyst"), PREFIX)
    assert len(bindings) == len(set(bindings))
    assert bindings == tenant_bindings(Tenant("institute", "analyst"), PREFIX)


def test_no_connector_uses_transactions_so_no_transactional_id_is_granted() -> None:
    # A vendor connector that starts using transactions needs a PREFIXED TransactionalId
    # grant in ops/catalog/grants.py; this test fails first to say so.
    root = Path(__file__).resolve().parents[3] / "connectors"
    users = [p for p in root.rglob("*.py") if "transactional_id" in p.read_text(encoding="utf-8")]
    assert users == []
    for kind in KINDS:
        bindings = tenant_bindings(Tenant("t", kind), PREFIX)  # type: ignore[arg-type]
        assert all(b.restype in (TOPIC, GROUP) for b in bindings)

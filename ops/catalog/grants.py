"""The Kafka ACLs the data-product catalog's grants give one tenant.

:func:`tenant_bindings` turns the Kafka grants of :data:`ops.catalog.products.PRODUCTS` for
a tenant's kind into ``AclBinding`` s for its principal ``User:tenant-<name>``; ``cultuurbus
access apply`` reconciles the broker with them (``ops/access/acls.py``). Only ALLOW
bindings: the broker runs with ``allow.everyone.if.no.acl.found=false``, so whatever is
not granted here is refused.

- ``write-own`` on an ingest family: PREFIXED WRITE + DESCRIBE on the tenant's
  ``ingest_prefix`` (``<prefix>ingest.<tenant>.``; the trailing dot keeps ``acme`` off
  ``acme-north``'s topics). WRITE is all an idempotent producer needs since Kafka 2.8
  (KIP-679: IDEMPOTENT_WRITE on the cluster is no longer checked). No connector uses
  transactions (no ``transactional_id`` in connectors/), so no TransactionalId is granted.
- ``read-all`` on a topic: LITERAL READ + DESCRIBE on that topic, plus READ on the
  consumer groups whose id starts with :func:`group_prefix` (``<prefix>tenant-<name>.``):
  the only group ids the tenant may use, e.g. ``tenant-uitapp.board``.
- ``read-own`` is never a Kafka grant: ACLs cannot filter records by venue, so an
  owner-only topic that mixes venues (``participation.sales``, ``participation.attendance``)
  is granted to no tenant on Kafka; owners get their rows through the gateway and the
  reports, which scope them.
- A revoked tenant gets no bindings.
"""

from __future__ import annotations

from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    ResourcePatternType,
    ResourceType,
)

from bus.tenants import Tenant, ingest_prefix, principal_of
from bus.topics import topic_name
from ops.catalog.products import PRODUCTS

__all__ = ["group_prefix", "tenant_bindings"]


def group_prefix(name: str, topic_prefix: str = "") -> str:
    """Every consumer group id tenant ``name`` may use starts with this (dot included)."""
    return f"{topic_prefix}{principal_of(name)}."


def _allow(principal: str, rtype: ResourceType, resource: str, pattern: ResourcePatternType,
           op: AclOperation) -> AclBinding:
    return AclBinding(rtype, resource, pattern, principal, "*", op, AclPermissionType.ALLOW)


def tenant_bindings(tenant: Tenant, topic_prefix: str) -> list[AclBinding]:
    """The ACL bindings the catalog's Kafka grants give ``tenant`` (none when revoked),
    sorted and without duplicates."""
    if tenant.revoked:
        return []
    principal = "User:" + tenant.principal
    topic, group = ResourceType.TOPIC, ResourceType.GROUP
    literal, prefixed = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
    out: set[AclBinding] = set()
    reads = False
    for product in PRODUCTS:
        for port in product.ports:
            if port.kind != "kafka":
                continue
            for grant in port.grants:
                if grant.kind != tenant.kind:
                    continue
                if grant.access == "write-own":
                    own = ingest_prefix(tenant.name, topic_prefix)
                    out |= {_allow(principal, topic, own, prefixed, AclOperation.WRITE),
                            _allow(principal, topic, own, prefixed, AclOperation.DESCRIBE)}
                elif grant.access == "read-all":
                    name = topic_name(port.name, topic_prefix)
                    out |= {_allow(principal, topic, name, literal, AclOperation.READ),
                            _allow(principal, topic, name, literal, AclOperation.DESCRIBE)}
                    reads = True
    if reads:
        out.add(_allow(principal, group, group_prefix(tenant.name, topic_prefix), prefixed,
                       AclOperation.READ))
    return sorted(out, key=lambda b: (b.restype_int, b.name, b.resource_pattern_type_int,
                                      b.operation_int))

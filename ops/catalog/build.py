"""The data-product catalog resolved against what the bus really has.

:func:`build_catalog` turns the definitions of :data:`ops.catalog.products.PRODUCTS` into
:class:`Product` s whose ports carry real names and schemas: topics from
:data:`bus.topics.CATALOG` (prefixed name, Avro file, registry subject, retention), tables
from the sink's DDL (columns, TTL), routes from the gateway's app, report commands from
``cultuurbus report`` (:mod:`ops.catalog.sources`). It refuses a definition that names
something missing or grants what cannot be enforced. :func:`uncatalogued` lists what exists
but belongs to no product; a test keeps it empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bus.serde import subject_for
from bus.tenants import INGEST_FAMILIES, KINDS, ingest_prefix, ingest_topic
from bus.topics import CATALOG, spec, topic_name
from ops.catalog.products import (
    CLASSIFICATIONS,
    PRODUCTS,
    TERMS,
    About,
    CatalogError,
    Grant,
    PortDef,
    PortKind,
    ProductDef,
)

__all__ = ["Catalog", "Port", "Product", "build_catalog", "uncatalogued"]


@dataclass(frozen=True)
class Port:
    """A port resolved against the bus: its real name and its schema.

    Attributes:
        kind: kafka, clickhouse, http or report.
        name: the topic (ingest: ``ingest.<tenant>.<family>``), table, route or command.
        schema: kafka: ``{"avro": file, "subject": registry subject}`` (JSON topics: no avro);
            clickhouse: ``{"columns": [[name, type], ...]}``; http: ``{"route": "GET /path"}``;
            report: ``{"command": "cultuurbus report x"}``.
        retention: how long records or rows are kept.
        grants: which tenant kinds may use it, and how.
        summary: what it is, in one line.

    """

    kind: PortKind
    name: str
    schema: dict[str, Any]
    retention: str
    grants: tuple[Grant, ...]
    summary: str
    ingest: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "ingest": self.ingest, "schema": self.schema,
                "retention": self.retention, "summary": self.summary,
                "grants": [{"kind": g.kind, "access": g.access} for g in self.grants]}


@dataclass(frozen=True)
class Product(About):
    ports: tuple[Port, ...]

    @property
    def terms(self) -> str:
        return TERMS[self.classification]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "owner": self.owner, "domain": self.domain,
                "classification": self.classification, "terms": self.terms,
                "description": self.description, "ports": [p.to_json() for p in self.ports]}


@dataclass(frozen=True)
class Catalog:
    topic_prefix: str
    products: tuple[Product, ...]

    def to_json(self) -> dict[str, Any]:
        return {"topic_prefix": self.topic_prefix, "terms": TERMS,
                "products": [p.to_json() for p in self.products]}


def _retention_of_topic(retention_ms: int, cleanup: str) -> str:
    if "compact" in cleanup and retention_ms < 0:
        return "compacted: the latest record per key, kept until deleted"
    if retention_ms < 0:
        return "kept until deleted"
    days = retention_ms / 86_400_000
    return f"{days:g} days" + (" (compacted)" if "compact" in cleanup else "")


def _ingest_pattern(family: str, topic_prefix: str) -> str:
    """``<prefix>ingest.{tenant}.<family>``, built by bus.tenants' own naming."""
    head = ingest_prefix("tenant", topic_prefix)
    return (head[: -len("tenant.")] + "{tenant}."
            + ingest_topic("tenant", family, topic_prefix)[len(head):])


def _resolve(product: ProductDef, port: PortDef, topic_prefix: str) -> Port:
    from ops.catalog.sources import ddl_tables, gateway_routes, report_commands

    where = f"product {product.id}: {port.kind} port {port.name!r}"
    if port.kind == "kafka":
        t = spec(port.name)
        name = _ingest_pattern(port.name, topic_prefix) if port.ingest else topic_name(t.name,
                                                                                         topic_prefix)
        schema: dict[str, Any] = ({"avro": t.value_schema, "subject": subject_for(name)}
                                  if t.value_schema else {"avro": None, "subject": None,
                                                          "format": "bytes or JSON, see summary"})
        return Port("kafka", name, schema, _retention_of_topic(t.retention_ms, t.cleanup_policy),
                    port.grants, t.description, port.ingest)
    if port.kind == "clickhouse":
        table = ddl_tables().get(port.name)
        if table is None or table.kind == "materialized-view":
            raise CatalogError(f"{where}: no such table or view in sinks/clickhouse/migrations")
        retention = f"TTL {table.ttl}" if table.ttl else "kept until deleted (no TTL)"
        return Port("clickhouse", table.name, {"columns": [list(c) for c in table.columns]},
                    retention, port.grants, f"ClickHouse {table.kind} {table.name}")
    if port.kind == "http":
        route = gateway_routes().get(port.name)
        if route is None:
            raise CatalogError(f"{where}: the gateway (sinks/gateway/app.py) has no such route")
        return Port("http", route.path, {"route": f"{','.join(route.methods)} {route.path}"},
                    "live: the current state", port.grants, route.summary)
    help_line = report_commands().get(port.name)
    if help_line is None:
        raise CatalogError(f"{where}: `cultuurbus {port.name}` does not exist")
    return Port("report", port.name, {"command": f"cultuurbus {port.name}"},
                "computed on request from ClickHouse", port.grants, help_line)


def _check(product: ProductDef) -> None:
    if product.classification not in CLASSIFICATIONS:
        raise CatalogError(f"product {product.id}: classification {product.classification!r} is "
                           f"not one of {', '.join(CLASSIFICATIONS)}")
    for port in product.ports:
        for g in port.grants:
            if g.kind not in KINDS:
                raise CatalogError(f"product {product.id}: grant to unknown tenant kind {g.kind!r}")
            if product.classification == "internal":
                raise CatalogError(f"product {product.id} is internal: it grants nothing to "
                                   "tenants; classify it otherwise or drop the grant")
            if port.kind == "kafka" and g.access == "read-own":
                raise CatalogError(f"product {product.id}: read-own on Kafka topic {port.name} "
                                   "cannot be enforced (ACLs do not filter records); serve it "
                                   "scoped through the gateway or the reports")
            if g.access == "write-own" and not (port.ingest and g.kind == "vendor"
                                                and port.name in INGEST_FAMILIES):
                raise CatalogError(f"product {product.id}: write-own is only for vendors on "
                                   "their ingest topics (bus.tenants.INGEST_FAMILIES)")
            if g.kind == "app" and product.id not in {"availability", "lastminute"}:
                raise CatalogError(f"product {product.id}: apps read availability and "
                                   "last-minute offers only")


def build_catalog(topic_prefix: str = "") -> Catalog:
    """The catalog resolved for a deployment (topic names with ``topic_prefix``).

    Raises:
        CatalogError: a product names a topic, table, route or report that does not exist,
            or grants what cannot be enforced.

    """
    products = []
    for p in PRODUCTS:
        _check(p)
        products.append(Product(p.id, p.title, p.owner, p.domain, p.classification,
                                p.description, tuple(_resolve(p, port, topic_prefix)
                                                     for port in p.ports)))
    return Catalog(topic_prefix, tuple(products))


def uncatalogued() -> list[str]:
    """Topics, tables, routes and reports the bus has but no product names (should be none)."""
    from ops.catalog.sources import NOT_PRODUCTS, ddl_tables, gateway_routes, report_commands

    named = {(port.kind, port.name) for p in PRODUCTS for port in p.ports if not port.ingest}
    missing = [f"kafka topic {t.name}" for t in CATALOG if ("kafka", t.name) not in named]
    missing += [f"clickhouse {t.kind} {t.name}" for t in ddl_tables().values()
                if t.kind != "materialized-view" and ("clickhouse", t.name) not in named]
    missing += [f"http route {r}" for r in gateway_routes()
                if r not in NOT_PRODUCTS and ("http", r) not in named]
    missing += [f"command cultuurbus {c}" for c in report_commands() if ("report", c) not in named]
    return missing

"""The data-product catalog: complete, true to the DDL/topics/routes, and keeping the issue's rules."""

from __future__ import annotations

import dataclasses

import pytest

from bus import topics
from bus.topics import AVAILABILITY, FACTS, SALES, SNAPSHOTS, TICKET_EVENTS, TopicSpec
from ops.catalog import build as build_module
from ops.catalog import sources
from ops.catalog.build import build_catalog, uncatalogued
from ops.catalog.products import PRODUCTS, CatalogError, Grant, PortDef, ProductDef
from ops.catalog.sources import Table, parse_ddl


def _product(catalog, product_id):  # type: ignore[no-untyped-def]
    return next(p for p in catalog.products if p.id == product_id)


def test_every_topic_table_route_and_report_belongs_to_a_product() -> None:
    assert uncatalogued() == []


def test_a_new_topic_without_a_product_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = TopicSpec("participation.contracts", None, "k", 4, "delete", 1, "streams", "new")
    monkeypatch.setattr(build_module, "CATALOG", (*topics.CATALOG, extra))
    assert uncatalogued() == ["kafka topic participation.contracts"]


def test_a_new_table_or_route_without_a_product_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    tables = {**sources.ddl_tables(), "contract_figures": Table("contract_figures", "table", ())}
    routes = {**sources.gateway_routes(),
              "/v1/sales": sources.Route("/v1/sales", ("GET",), "sales")}
    monkeypatch.setattr(sources, "ddl_tables", lambda: tables)
    monkeypatch.setattr(sources, "gateway_routes", lambda: routes)
    assert uncatalogued() == ["clickhouse table contract_figures", "http route /v1/sales"]


def test_a_product_naming_a_missing_table_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = ProductDef("x", "X", "o", "ticketing", "public", "d", (PortDef("clickhouse", "nope"),))
    monkeypatch.setattr(build_module, "PRODUCTS", (*PRODUCTS, bad))
    with pytest.raises(CatalogError, match="product x: clickhouse port 'nope'.*migrations"):
        build_catalog()


@pytest.mark.parametrize(("port", "message"), [
    (PortDef("kafka", SALES, (Grant("venue", "read-own"),)), "cannot be enforced"),
    (PortDef("kafka", SALES, (Grant("app", "read-all"),)), "apps read availability"),
    (PortDef("kafka", TICKET_EVENTS, (Grant("venue", "write-own"),), ingest=True),
     "only for vendors"),
])
def test_grants_that_break_the_rules_are_refused(monkeypatch: pytest.MonkeyPatch, port: PortDef,
                                                 message: str) -> None:
    bad = ProductDef("x", "X", "o", "participation", "owner-only", "d", (port,))
    monkeypatch.setattr(build_module, "PRODUCTS", (bad,))
    with pytest.raises(CatalogError, match=message):
        build_catalog()


def test_classifications_follow_the_issue() -> None:
    by_id = {p.id: p.classification for p in PRODUCTS}
    assert by_id["availability"] == by_id["lastminute"] == "public"
    assert {by_id[i] for i in ("sales", "attendance", "audience", "ticket-events")} == {"owner-only"}
    assert by_id["sector-benchmark"] == "sector-aggregated"
    assert by_id["streams-plumbing"] == by_id["dead-letters"] == "internal"


def test_apps_are_granted_availability_and_lastminute_only() -> None:
    granted = {p.id for p in PRODUCTS for port in p.ports for g in port.grants if g.kind == "app"}
    assert granted == {"availability", "lastminute"}


def test_only_analysts_read_raw_facts_and_only_vendors_write() -> None:
    for p in PRODUCTS:
        for port in p.ports:
            for g in port.grants:
                if port.kind == "kafka" and port.name in {FACTS, TICKET_EVENTS, SNAPSHOTS} \
                        and not port.ingest:
                    assert g.kind == "analyst", (p.id, port.name, g)
                if g.access == "write-own":
                    assert (g.kind, port.ingest) == ("vendor", True), (p.id, port.name)


def test_owner_only_tables_are_read_own_for_venues_and_producers() -> None:
    sales = _product(build_catalog(), "sales")
    table = next(p for p in sales.ports if p.name == "sales_windows")
    assert {(g.kind, g.access) for g in table.grants} == {("venue", "read-own"), ("producer", "read-own")}
    kafka = next(p for p in sales.ports if p.kind == "kafka")
    assert kafka.grants == ()  # participation.sales mixes venues: no tenant on Kafka


def test_topic_ports_carry_prefixed_names_schema_subject_and_retention() -> None:
    catalog = build_catalog("dev.")
    port = _product(catalog, "availability").ports[0]
    assert (port.name, port.schema) == ("dev.participation.availability", {
        "avro": "availability.avsc", "subject": "dev.participation.availability-value"})
    assert port.retention.startswith("compacted")
    ingest = _product(catalog, "ticket-events").ports[0]
    assert ingest.ingest and ingest.name == "dev.ingest.{tenant}.ticketing.events"
    raw = next(p for p in _product(catalog, "raw-facts").ports if p.kind == "kafka")
    assert (raw.name, raw.retention) == ("dev." + FACTS, "400 days")
    assert raw.schema["subject"] is None  # original bytes, no registry subject of its own
    assert AVAILABILITY in port.name


def test_table_ports_carry_the_columns_of_the_sink_ddl() -> None:
    catalog = build_catalog()
    facts = next(p for p in _product(catalog, "ticket-events").ports if p.kind == "clickhouse")
    columns = dict(tuple(c) for c in facts.schema["columns"])
    assert columns["buyer_id_hash"] == "String"
    assert columns["tickets_delta"] == "Int32"  # MATERIALIZED expression not in the type
    assert columns["event_time"] == "DateTime64(3, 'UTC')"
    ddl = sources.ddl_tables()
    assert ddl["availability_current"].columns == ddl["availability_history"].columns
    assert [c for c, _ in ddl["sales_daily"].columns] == [
        "performance_id", "day", "ticket_type", "tickets", "revenue_cents"]
    assert ddl["availability_current_mv"].kind == "materialized-view"


def test_ddl_ttl_becomes_the_table_retention() -> None:
    parsed = parse_ddl(["CREATE TABLE IF NOT EXISTS t (a String, b DateTime DEFAULT now())\n"
                        "ENGINE = MergeTree ORDER BY a TTL toDateTime(b) + INTERVAL 30 DAY\n"
                        "SETTINGS index_granularity = 8192"])
    assert parsed["t"] == Table("t", "table", (("a", "String"), ("b", "DateTime")),
                                "toDateTime(b) + INTERVAL 30 DAY")


def test_http_ports_are_the_gateway_routes() -> None:
    names = {p.name for p in _product(build_catalog(), "availability").ports if p.kind == "http"}
    assert "/v1/performances/{performance_id}/availability" in names
    assert names <= set(sources.gateway_routes())


def test_catalog_json_lists_terms_and_grants() -> None:
    doc = build_catalog().to_json()
    lastminute = next(p for p in doc["products"] if p["id"] == "lastminute")
    assert lastminute["terms"].startswith("Open data")
    assert {"kind": "app", "access": "read-all"} in lastminute["ports"][0]["grants"]
    assert dataclasses.asdict(Grant("app", "read-all")) == {"kind": "app", "access": "read-all"}

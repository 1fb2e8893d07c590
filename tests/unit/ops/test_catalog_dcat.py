"""The DCAT-AP export validates against DCAT-AP 3.0.1's SHACL shapes, and the validation bites;
``cultuurbus catalog`` lists and exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from rdflib import Graph, URIRef
from rdflib import namespace as ns

from bus.settings import Settings
from ops.catalog.build import build_catalog
from ops.catalog.cli import catalog as catalog_cli
from ops.catalog.dcat import SHAPE_SETS, Endpoints, export_jsonld, shapes_graph, validate


@pytest.fixture(scope="module")
def document() -> str:
    endpoints = Endpoints("kafka://127.0.0.1:9092", "http://127.0.0.1:8123",
                          "http://127.0.0.1:8088", "http://127.0.0.1:8081/apis/ccompat/v7")
    return export_jsonld(build_catalog("dev."), endpoints)


def test_export_conforms_to_every_dcat_ap_shape_set(document: str) -> None:
    result = validate(document)
    assert result.conforms, result.report
    assert set(result.violations) == set(SHAPE_SETS)


def test_export_has_a_dataset_per_product_and_a_distribution_per_port(document: str) -> None:
    built = build_catalog("dev.")
    g = Graph().parse(data=document, format="json-ld")
    assert len(list(g.subjects(ns.RDF.type, ns.DCAT.Catalog))) == 1
    assert len(list(g.subjects(ns.RDF.type, ns.DCAT.Dataset))) == len(built.products)
    assert len(list(g.subjects(ns.RDF.type, ns.DCAT.Distribution))) == sum(len(p.ports)
                                                                      for p in built.products)
    availability = URIRef("urn:cultuurbus:product/availability")
    assert g.value(availability, ns.DCTERMS.accessRights) == URIRef(
        "http://publications.europa.eu/resource/authority/access-right/PUBLIC")
    topic = g.value(availability, ns.DCAT.distribution)  # one of its ports
    assert g.value(topic, ns.DCAT.accessService) is not None
    conforms = {str(o) for o in g.objects(None, ns.DCTERMS.conformsTo)}
    assert ("http://127.0.0.1:8081/apis/ccompat/v7/subjects/"
            "dev.participation.availability-value/versions/latest") in conforms


@pytest.mark.parametrize(("drop", "path"), [
    ((URIRef("urn:cultuurbus:product/sales"), ns.DCTERMS.title), "dct:title"),
    ((URIRef("urn:cultuurbus:product/sales/port/1"), ns.DCAT.accessURL), "dcat:accessURL"),
])
def test_a_broken_document_does_not_conform(document: str, drop: tuple[URIRef, URIRef],
                                            path: str) -> None:
    g = Graph().parse(data=document, format="json-ld")
    assert (drop[0], drop[1], None) in g
    g.remove((drop[0], drop[1], None))
    result = validate(g.serialize(format="json-ld"))
    assert not result.conforms
    assert all(n >= 1 for n in result.violations.values())
    assert path in result.report and str(drop[0]) in result.report


def test_shape_sets_load_well_formed() -> None:
    for files in SHAPE_SETS.values():
        assert all(f.is_file() for f in files)
        assert len(shapes_graph(files)) > 500


def test_endpoints_never_carry_credentials() -> None:
    settings = Settings().model_copy(update={"clickhouse": Settings().clickhouse.model_copy(
        update={"url": "http://reader:s3cret@ch.example:8123"})})
    assert Endpoints.of(settings).clickhouse == "http://ch.example:8123"


def test_catalog_list_shows_products_by_default() -> None:
    result = CliRunner().invoke(catalog_cli, [], obj=Settings())
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("availability "))
    assert "public" in line and "kafka:participation.availability" in line
    assert "warning" not in result.output


def test_catalog_list_json_uses_the_topic_prefix() -> None:
    settings = Settings().model_copy(update={"topic_prefix": "dev."})
    result = CliRunner().invoke(catalog_cli, ["list", "--json"], obj=settings)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    names = {p["name"] for prod in doc["products"] for p in prod["ports"]}
    assert "dev.participation.sales" in names


def test_catalog_export_dcat_writes_a_valid_file(tmp_path: Path) -> None:
    out = tmp_path / "catalog.jsonld"
    result = CliRunner().invoke(catalog_cli, ["export", "--dcat", "-o", str(out)], obj=Settings())
    assert result.exit_code == 0, result.output
    assert "valid against DCAT-AP 3.0.1" in result.output
    assert validate(out.read_text(encoding="utf-8")).conforms

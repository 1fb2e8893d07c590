"""The data-product catalog as a DCAT-AP 3.0.1 JSON-LD document, and its validation against
DCAT-AP's official SHACL shapes (vendored in ``shapes/``, see its README).

DCAT-AP is the profile of W3C DCAT that European and Flemish (OSLO) data portals harvest, so
a portal can list the bus's products without a custom adapter. The mapping:

- the catalog is a ``dcat:Catalog`` published by the operator (``foaf:Agent``);
- each product a ``dcat:Dataset``: ``dct:title``, ``dct:description``, ``dct:identifier``,
  ``dct:creator`` (its owner), ``dcat:keyword`` (domain, classification), ``dcat:theme``
  (EU data theme EDUC: education, culture and sport), ``dct:accessRights`` (EU access-right:
  public -> PUBLIC, sector-aggregated and owner-only -> RESTRICTED, internal -> NON_PUBLIC);
- each port a ``dcat:Distribution``: ``dcat:accessURL`` and ``dcat:accessService`` (the Kafka
  cluster, ClickHouse, the gateway: each a ``dcat:DataService`` with its ``endpointURL``),
  ``dct:format``, ``dct:conformsTo`` (a topic's registry subject, the gateway's OpenAPI
  document), ``dct:license`` (the classification's terms), ``dct:rights`` (the grants) and
  the retention in its description.

Perf notes: building and validating the ~20 products takes about a second (pySHACL).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from rdflib import RDF, RDFS, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, SKOS

from ops.catalog.build import Catalog, Port, Product

__all__ = ["DCAT_AP_VERSION", "SHAPE_SETS", "Endpoints", "Validation", "catalog_graph",
           "export_jsonld", "shapes_graph", "validate"]

DCAT_AP_VERSION = "3.0.1"
_SHAPES = Path(__file__).parent / "shapes"
#: The two SHACL renderings DCAT-AP 3.0.1 publishes, each validated: the one with an
#: identifier per constraint (``shacl/``), and the split files the Interoperable Europe
#: testbed loads (``html/shacl/``: existence and cardinality, then object ranges).
SHAPE_SETS: dict[str, tuple[Path, ...]] = {
    "shacl/dcat-ap-SHACL.ttl + ranges.ttl": (_SHAPES / f"dcat-ap-{DCAT_AP_VERSION}-SHACL.ttl",
                                             _SHAPES / f"dcat-ap-{DCAT_AP_VERSION}-ranges.ttl"),
    "html/shacl/shapes.ttl + range.ttl": (_SHAPES / f"dcat-ap-{DCAT_AP_VERSION}-shapes.ttl",
                                          _SHAPES / f"dcat-ap-{DCAT_AP_VERSION}-range.ttl"),
}
_SH = Namespace("http://www.w3.org/ns/shacl#")

EU = "http://publications.europa.eu/resource/authority/"
ACCESS_RIGHTS = {"public": "PUBLIC", "sector-aggregated": "RESTRICTED",
                 "owner-only": "RESTRICTED", "internal": "NON_PUBLIC"}
THEME = URIRef(EU + "data-theme/EDUC")
JSON_FORMAT = URIRef(EU + "file-type/JSON")
HTML_FORMAT = URIRef(EU + "file-type/HTML")
AVRO_SPEC = URIRef("https://avro.apache.org/docs/1.12.0/specification/")
CONTEXT = {"dcat": str(DCAT), "dct": str(DCTERMS), "foaf": str(FOAF), "skos": str(SKOS),
           "rdfs": str(RDFS)}


@dataclass(frozen=True)
class Endpoints:
    """Where each port kind is reached (credentials never included)."""

    kafka: str
    clickhouse: str
    gateway: str
    registry: str

    @classmethod
    def of(cls, settings: Any) -> Endpoints:
        """From :class:`bus.settings.Settings`."""
        first = settings.kafka.bootstrap_servers.split(",")[0].strip()
        gw = settings.gateway
        return cls(f"kafka://{first}", _no_userinfo(settings.clickhouse.url),
                   f"http://{gw.host}:{gw.port}", _no_userinfo(settings.registry.url))


def _no_userinfo(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _iri(base: str, *parts: str) -> URIRef:
    return URIRef(base + "/".join(quote(p, safe="") for p in parts))


class _Builder:
    def __init__(self, base: str, endpoints: Endpoints, publisher: str) -> None:
        self.g = Graph()
        self.base = base
        self.endpoints = endpoints
        self.publisher = _iri(base, "agent", _slug(publisher))
        self.g.add((self.publisher, RDF.type, FOAF.Agent))
        self.g.add((self.publisher, FOAF.name, Literal(publisher)))
        self.services: dict[str, URIRef] = {}
        self.terms: dict[str, URIRef] = {}

    def agent(self, name: str) -> URIRef:
        node = _iri(self.base, "agent", _slug(name))
        self.g.add((node, RDF.type, FOAF.Agent))
        self.g.add((node, FOAF.name, Literal(name)))
        return node

    def typed(self, node: URIRef, cls: URIRef, label: str) -> URIRef:
        self.g.add((node, RDF.type, cls))
        self.g.add((node, RDFS.label, Literal(label)))
        return node

    def service(self, kind: str) -> URIRef:
        if kind not in self.services:
            url, title = {"kafka": (self.endpoints.kafka, "cultuurbus Kafka cluster"),
                          "clickhouse": (self.endpoints.clickhouse, "cultuurbus ClickHouse"),
                          "http": (self.endpoints.gateway, "cultuurbus availability gateway"),
                          "report": (self.endpoints.clickhouse, "cultuurbus reports (CLI over "
                                     "ClickHouse)")}[kind]
            node = _iri(self.base, "service", kind)
            g = self.g
            g.add((node, RDF.type, DCAT.DataService))
            g.add((node, DCTERMS.title, Literal(title)))
            g.add((node, DCTERMS.publisher, self.publisher))
            # The ranges shapes ask for class rdfs:Resource (true of every IRI in RDFS; stated
            # here because validators run without inference).
            g.add((node, DCAT.endpointURL, self.typed(URIRef(url), RDFS.Resource, url)))
            if kind == "http":
                g.add((node, DCAT.endpointDescription, self.typed(
                    URIRef(url + "/openapi.json"), RDFS.Resource, "the gateway's OpenAPI document")))
            self.services[kind] = node
        return self.services[kind]

    def license(self, product: Product) -> URIRef:
        c = product.classification
        if c not in self.terms:
            self.terms[c] = self.typed(_iri(self.base, "terms", c), DCTERMS.LicenseDocument,
                                       f"{c}: {product.terms}")
        return self.terms[c]

    def distribution(self, product: Product, n: int, port: Port) -> URIRef:
        g, node = self.g, _iri(self.base, "product", product.id, "port", str(n))
        g.add((node, RDF.type, DCAT.Distribution))
        g.add((node, DCTERMS.title, Literal(f"{port.kind} {port.name}")))
        g.add((node, DCTERMS.description, Literal(
            f"{port.summary} Retention: {port.retention}." + (
                " Each vendor tenant writes its own topic ({tenant} = its name)."
                if port.ingest else ""))))
        service = self.service(port.kind)
        g.add((node, DCAT.accessService, service))
        g.add((service, DCAT.servesDataset, _iri(self.base, "product", product.id)))
        if port.kind == "http":
            url = self.endpoints.gateway + quote(port.name, safe="/")
            g.add((node, DCAT.accessURL, URIRef(url)))
            fmt = HTML_FORMAT if port.name == "/board" else JSON_FORMAT
            g.add((node, DCTERMS.format, self.typed(fmt, DCTERMS.MediaTypeOrExtent,
                                                    "HTML" if fmt == HTML_FORMAT else "JSON")))
            g.add((node, DCTERMS.conformsTo, self.typed(
                URIRef(self.endpoints.gateway + "/openapi.json"), DCTERMS.Standard,
                "the gateway's OpenAPI document")))
        else:
            g.add((node, DCAT.accessURL, URIRef(self.endpoints.clickhouse if port.kind in
                                                {"clickhouse", "report"} else self.endpoints.kafka)))
        subject = port.schema.get("subject")
        if subject:
            g.add((node, DCTERMS.format, self.typed(
                AVRO_SPEC, DCTERMS.MediaTypeOrExtent, "Apache Avro, Confluent wire format")))
            url = f"{self.endpoints.registry}/subjects/{quote(subject, safe='')}/versions/latest"
            g.add((node, DCTERMS.conformsTo, self.typed(
                URIRef(url), DCTERMS.Standard, f"registry subject {subject} "
                f"(schemas/avro/{port.schema['avro']})")))
        g.add((node, DCTERMS.license, self.license(product)))
        rights = BNode()
        who = "; ".join(f"{gr.kind}: {gr.access}" for gr in port.grants) or "no tenant"
        self.typed(rights, DCTERMS.RightsStatement, f"Grants: {who}.")  # type: ignore[arg-type]
        g.add((node, DCTERMS.rights, rights))
        return node

    def dataset(self, product: Product) -> URIRef:
        g, node = self.g, _iri(self.base, "product", product.id)
        g.add((node, RDF.type, DCAT.Dataset))
        g.add((node, DCTERMS.identifier, Literal(product.id)))
        g.add((node, DCTERMS.title, Literal(product.title)))
        g.add((node, DCTERMS.description, Literal(product.description)))
        g.add((node, DCTERMS.publisher, self.publisher))
        g.add((node, DCTERMS.creator, self.agent(product.owner)))
        for word in (product.domain, product.classification):
            g.add((node, DCAT.keyword, Literal(word)))
        g.add((node, DCAT.theme, THEME))
        access = URIRef(EU + "access-right/" + ACCESS_RIGHTS[product.classification])
        g.add((node, DCTERMS.accessRights, self.typed(
            access, DCTERMS.RightsStatement, ACCESS_RIGHTS[product.classification])))
        for n, port in enumerate(product.ports, start=1):
            g.add((node, DCAT.distribution, self.distribution(product, n, port)))
        return node


def catalog_graph(catalog: Catalog, endpoints: Endpoints, *, base_iri: str = "urn:cultuurbus:",
                  publisher: str = "cultuurbus operator") -> Graph:
    """The catalog as an RDF graph in DCAT-AP terms (IRIs under ``base_iri``)."""
    b = _Builder(base_iri, endpoints, publisher)
    g = b.g
    g.bind("dcat", DCAT)
    g.bind("dct", DCTERMS)
    root = _iri(base_iri, "catalog")
    g.add((root, RDF.type, DCAT.Catalog))
    g.add((root, DCTERMS.title, Literal("cultuurbus data products")))
    g.add((root, DCTERMS.description, Literal(
        "Every topic, ClickHouse table, HTTP endpoint and report the cultuurbus event bus offers "
        "(topic prefix " + repr(catalog.topic_prefix) + "), with owner, classification, terms "
        "of use, retention and the grants tenants get.")))
    g.add((root, DCTERMS.publisher, b.publisher))
    g.add((THEME, RDF.type, SKOS.Concept))
    g.add((THEME, SKOS.prefLabel, Literal("Education, culture and sport", lang="en")))
    for product in catalog.products:
        g.add((root, DCAT.dataset, b.dataset(product)))
    for service in b.services.values():
        g.add((root, DCAT.service, service))
    return g


def export_jsonld(catalog: Catalog, endpoints: Endpoints, **options: str) -> str:
    """The catalog as a DCAT-AP JSON-LD document (``options``: see :func:`catalog_graph`)."""
    graph = catalog_graph(catalog, endpoints, **options)
    doc = json.loads(graph.serialize(format="json-ld", context=CONTEXT, auto_compact=True))
    return json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


@dataclass(frozen=True)
class Validation:
    """What the SHACL validation found: ``conforms``, and per shape set the violations and the
    report's text."""

    conforms: bool
    violations: dict[str, int]
    report: str


def shapes_graph(files: tuple[Path, ...]) -> Graph:
    """One shape set, loaded. References to property shapes that the files never define are
    dropped: release 3.0.1's ``shacl/`` files name five such shapes (on dcat:Dataset,
    dcat:Distribution, dcat:Relationship), which SHACL processors refuse as malformed; the
    constraints that are defined are all kept."""
    g = Graph()
    for f in files:
        g.parse(f, format="turtle")
    for shape, prop in list(g.subject_objects(_SH.property)):
        if isinstance(prop, URIRef) and (prop, None, None) not in g:
            g.remove((shape, _SH.property, prop))
    return g


def validate(document: str | Graph) -> Validation:
    """Validate a JSON-LD document (or a graph) against every set of DCAT-AP shapes."""
    from pyshacl import validate as shacl_validate

    data = document if isinstance(document, Graph) else Graph().parse(data=document,
                                                                     format="json-ld")
    counts, texts = {}, []
    for name, files in SHAPE_SETS.items():
        conforms, results, text = shacl_validate(data, shacl_graph=shapes_graph(files),
                                                 inference="none", abort_on_first=False,
                                                 allow_warnings=False)
        counts[name] = 0 if conforms else sum(
            1 for _ in results.subjects(RDF.type, _SH.ValidationResult))
        if not conforms:
            texts.append(f"{name}:\n{text}")
    return Validation(not any(counts.values()), counts, "\n".join(texts))

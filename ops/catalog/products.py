"""The data products of the bus, kept as code: every topic, ClickHouse table, HTTP endpoint
and report it offers belongs to one product here, with its owner, domain, classification,
terms of use and ports, and the grants tenants get on each port.

:data:`PRODUCTS` are the definitions: they name topics (``bus.topics`` constants, never
copied names), tables, routes and reports; :func:`ops.catalog.build.build_catalog` resolves
them against what the bus really has (schema, registry subject, columns, retention) and
:func:`ops.catalog.build.uncatalogued` lists what belongs to no product.

Grants say which tenant kinds may use a port and how: ``read-all`` (every row),
``read-own`` (only rows of the venues/productions the tenant is registered for: enforced by
the gateway and the report query layer, never by Kafka ACLs, which cannot filter records),
``write-own`` (a vendor's own ingest topics, ``bus.tenants.ingest_prefix``). The Kafka
grants become ACLs in :mod:`ops.catalog.grants`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from bus.errors import ConfigError
from bus.tenants import Kind
from bus.topics import (
    ATTENDANCE,
    AVAILABILITY,
    CATALOG,
    CONNECT_POSITIONS,
    FACTS,
    IDENTITY,
    LASTMINUTE,
    MATCH,
    PERFORMANCES,
    RECONCILIATION,
    RELEASE,
    REVIEW,
    SALES,
    SNAPSHOTS,
    TENANTS,
    TICKET_EVENTS,
    UNMATCHED,
    VENUE_LINKS,
    VENUES,
    dlq_of,
)

__all__ = [
    "CLASSIFICATIONS",
    "PRODUCTS",
    "TERMS",
    "About",
    "Access",
    "CatalogError",
    "Classification",
    "Grant",
    "PortDef",
    "PortKind",
    "ProductDef",
]

Classification = Literal["public", "sector-aggregated", "owner-only", "internal"]
CLASSIFICATIONS: tuple[str, ...] = get_args(Classification)
Access = Literal["read-all", "read-own", "write-own"]
PortKind = Literal["kafka", "clickhouse", "http", "report"]

#: Terms of use, one per classification.
TERMS: dict[str, str] = {
    "public": "Open data: anyone may read, reuse and republish it, naming cultuurbus and the "
              "venue as the source.",
    "sector-aggregated": "Only figures over groups of at least five venues may be shown or passed "
                         "on; never one venue's figure, nor a figure from which one can be worked "
                         "out.",
    "owner-only": "Each venue sees only its own performances and each producer its own "
                  "productions; no tenant sees another's rows. Analyst tenants (the analytics "
                  "roles) may process every row but publish only sector-aggregated results.",
    "internal": "Plumbing of the bus: read and written by its own roles only; no tenant has "
                "access and its shape may change without notice.",
}


class CatalogError(ConfigError):
    """The data-product catalog names something the bus does not have, or grants something
    that cannot be enforced; the message says which product and what to change."""


@dataclass(frozen=True)
class Grant:
    """Tenants of ``kind`` may use a port this way."""

    kind: Kind
    access: Access


def grants(access: Access, *kinds: Kind) -> tuple[Grant, ...]:
    return tuple(Grant(k, access) for k in kinds)


READERS: tuple[Kind, ...] = ("app", "venue", "producer", "analyst")  # every kind that reads
OWNERS: tuple[Kind, ...] = ("venue", "producer")


@dataclass(frozen=True)
class PortDef:
    """A port as a product names it: a catalog topic (``bus.topics`` name), an ingest family
    (``ingest=True``: every vendor's own topic of that family), a ClickHouse table or view, a
    gateway route or a report command."""

    kind: PortKind
    name: str
    grants: tuple[Grant, ...] = ()
    ingest: bool = False


@dataclass(frozen=True)
class About:
    """What a product is, apart from its ports."""

    id: str
    title: str
    owner: str
    domain: str
    classification: Classification
    description: str


@dataclass(frozen=True)
class ProductDef(About):
    ports: tuple[PortDef, ...]


def _kafka(name: str, *g: Grant) -> PortDef:
    return PortDef("kafka", name, tuple(g))


def _ingest(family: str) -> PortDef:
    return PortDef("kafka", family, grants("write-own", "vendor"), ingest=True)


def _table(name: str, *g: Grant) -> PortDef:
    return PortDef("clickhouse", name, tuple(g))


def _http(path: str, *g: Grant) -> PortDef:
    return PortDef("http", path, tuple(g))


def _report(name: str, *g: Grant) -> PortDef:
    return PortDef("report", f"report {name}", tuple(g))


#: Owner-only rows: each owner its own. No tenant reads every venue's rows, analysts neither:
#: "no tenant but the analytics roles reads raw facts" (the sink, a role, does); analysts get
#: the sector-aggregated and thresholded products instead.
_OWN = grants("read-own", *OWNERS)
_ALL = grants("read-all", *READERS)
_PUBLIC_TABLE = grants("read-all", "venue", "producer", "analyst")



def _vendor_fed(id_: str, title: str, classification: Classification, description: str,
                family: str, table: str, table_grants: tuple[Grant, ...]) -> ProductDef:
    """A product that vendors feed: each writes its own ingest topic of ``family``; the
    shared topic is read by analysts only when the product is public (raw ticket facts are
    read by the bus's own roles alone); the sink's ``table`` for whom ``table_grants`` say."""
    owner = ("the publishing calendar or vendor" if family == PERFORMANCES
             else "the selling vendor, for its venues")
    domain = family.split(".")[0]
    shared = (Grant("analyst", "read-all"),) if classification == "public" else ()
    return ProductDef(id_, title, owner, domain, classification, description,
                      (_ingest(family), _kafka(family, *shared), _table(table, *table_grants)))


PRODUCTS: tuple[ProductDef, ...] = (
    _vendor_fed("ticket-events", "Ticket events", "owner-only", "Every ticket sold, cancelled, "
                "refunded, reserved, released, blocked or scanned, as the vendors' systems report "
                "it (a vendor tenant's once the streams worker accepted it for a venue or production "
                "the tenant is registered for); buyers only as pseudonyms.", TICKET_EVENTS,
                "ticket_facts", _OWN),
    _vendor_fed("sales-snapshots", "Cumulative sales snapshots", "owner-only", "DIP-style "
                "cumulative counts per performance and ticket type; the streams derive deltas "
                "from them.", SNAPSHOTS, "sales_snapshots", _OWN),
    ProductDef("raw-facts", "Raw facts by canonical performance", "cultuurbus streams", "ticketing",
               "owner-only", "Ticket events, snapshots and performances re-keyed by canonical "
               "performance id (original Avro bytes): the input of every analysis. A vendor "
               "tenant's fact (header cultuurbus.tenant) counts only from the copy the worker "
               "writes once it accepted it (cultuurbus.move: accepted); the first may be held "
               "or refused.",
               (_kafka(FACTS),)),
    _vendor_fed("performances", "Performances", "public", "Performances as calendars and vendors "
                "describe them: title, venue, start, capacity, status, ticket-shop URL.",
                PERFORMANCES, "performances", _PUBLIC_TABLE),
    ProductDef("availability", "Live seat availability", "cultuurbus streams", "availability",
               "public", "Seats sold, held and left and a status (AVAILABLE, LIMITED, SOLD_OUT, "
               "...) per performance, on every change, within a second of the sale.",
               (_kafka(AVAILABILITY, *_ALL), _table("availability_current", *_PUBLIC_TABLE),
                _table("availability_history", *_PUBLIC_TABLE),
                _http("/v1/availability", *_ALL),
                _http("/v1/performances/{performance_id}/availability", *_ALL),
                _http("/v1/productions/{production_id}/performances", *_ALL),
                _http("/v1/stream", *_ALL))),
    ProductDef("lastminute", "Last-minute offers", "cultuurbus streams", "availability", "public",
               "Performances starting soon with seats left; a tombstone withdraws an offer.",
               (_kafka(LASTMINUTE, *_ALL), _table("lastminute_offers", *_PUBLIC_TABLE),
                _http("/v1/lastminute", *_ALL), _http("/v1/stream", *_ALL),
                _http("/board", *_ALL))),
    ProductDef("sales", "Sales per performance", "each venue and producer (own rows)",
               "participation", "owner-only", "Tickets and revenue per "
               "hour and day, ticket type and channel; occupancy and the sales curve.",
               # participation.sales mixes every venue's windows and Kafka ACLs cannot filter
               # records: no tenant reads it on Kafka; owners get it scoped from ClickHouse.
               (_kafka(SALES), _table("sales_windows", *_OWN), _table("sales_movements", *_OWN),
                _table("sales_daily", *_OWN), _report("sales", *_OWN))),
    ProductDef("attendance", "Attendance", "each venue and producer (own rows)",
               "participation", "owner-only", "Door scans and no-shows per "
               "performance.",
               (_kafka(ATTENDANCE), _table("attendance", *_OWN))),
    ProductDef("audience", "Audience", "each venue and producer (own buyers)", "participation",
               "owner-only", "Reach by postcode area, first-time versus returning buyers and "
               "visit frequency, from pseudonymised buyers.",
               # analysts: the sector's buyers, every group above the buyer threshold
               (_report("audience", *_OWN, Grant("analyst", "read-all")),)),
    ProductDef("sector-benchmark", "Sector benchmark", "cultuurbus (the sector)", "participation",
               "sector-aggregated", "Occupancy, average price and discount share by genre and by "
               "region, only for groups of at least five venues.",
               (_report("benchmark", *grants("read-all", "venue", "producer", "analyst")),)),
    ProductDef("reconciliation", "Declared availability drift", "each venue (own performances)",
               "availability", "owner-only", "Where a vendor's declared seats left differ from "
               "what the bus counted, and when they agree again.",
               (_kafka(RECONCILIATION),)),
    ProductDef("identity-crosswalk", "Performance identity crosswalk", "cultuurbus streams",
               "identity", "public", "Which identifier (DIP, UiTdatabank, a vendor's id) names "
               "which canonical performance, and why.",
               (_kafka(IDENTITY, Grant("analyst", "read-all")),
                _table("identity_links", *_PUBLIC_TABLE))),
    ProductDef("venue-crosswalk", "Venue crosswalk", "cultuurbus streams", "identity", "public",
               "Which venue ids are one venue, and why.",
               (_kafka(VENUE_LINKS, Grant("analyst", "read-all")),
                _table("venue_links", *_PUBLIC_TABLE))),
    ProductDef("identity-review", "Identity match candidates", "cultuurbus operators", "identity",
               "internal", "Pairs of descriptions a person decides on (`cultuurbus identity`).",
               (_kafka(REVIEW),)),
    ProductDef("unmatched", "Parked facts", "cultuurbus streams", "identity", "internal",
               "Ticket facts waiting for their performance to be known.",
               (_kafka(UNMATCHED), _table("unmatched_facts"))),
    ProductDef("streams-plumbing", "Streams work topics", "cultuurbus streams", "identity",
               "internal", "Release, match and venue-evidence requests between streams agents.",
               (_kafka(RELEASE), _kafka(MATCH), _kafka(VENUES))),
    ProductDef("tenants", "Tenant directory", "cultuurbus operators", "access", "internal",
               "Tenants, what they are registered for and their API token hashes.",
               (_kafka(TENANTS),)),
    ProductDef("tenant-identity", "Who an API token is", "cultuurbus operators", "access",
               "owner-only", "The tenant an API token names, what it is registered for and what "
               "its kind may use; each tenant, apps too, sees only its own record.",
               # apps call it too; the catalog's rule lets apps be granted availability and
               # last-minute offers only (ops/catalog/build.py), so they are not listed here
               (_http("/v1/me", *grants("read-own", "vendor", "venue", "producer", "analyst")),)),
    ProductDef("connector-positions", "Connector positions", "cultuurbus connectors", "ingest",
               "internal", "Durable source cursors of the connectors.",
               (_kafka(CONNECT_POSITIONS),)),
    ProductDef("dead-letters", "Dead letters", "cultuurbus operators", "operations", "internal",
               "What a role could not process: the original bytes and the error, per topic.",
               tuple(_kafka(dlq_of(t.name)) for t in CATALOG
                     if any(d.name == dlq_of(t.name) for d in CATALOG))),
    ProductDef("gateway-operations", "Gateway health and metrics", "cultuurbus operators",
               "operations", "internal", "Readiness, liveness and Prometheus metrics.",
               (_http("/healthz"), _http("/healthz/live"), _http("/metrics"))),
)

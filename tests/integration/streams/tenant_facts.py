"""What the tenant-ownership tests of the streams worker share: tenants in the directory,
their ingest topics made from the catalog, calendar and ticket facts, and reading what
the worker made of them (availability, dead letters, its metrics)."""

from __future__ import annotations

import dataclasses
import urllib.request
from datetime import timedelta
from typing import Any

from bus.codec import ACCEPTED_MOVE, MOVE_HEADER, FactReader
from bus.kafka import make_admin, make_producer
from bus.serde import AvroSerializer, Registry
from bus.settings import Settings
from bus.tenants import INGEST_FAMILIES, Tenant, ingest_topic
from bus.topics import (
    AVAILABILITY,
    FACTS,
    PERFORMANCES,
    TENANTS,
    TICKET_EVENTS,
    apply_catalog,
    dlq_of,
    spec,
)
from schemas.models import Identifier, Performance, TicketEvent, Venue, utcnow
from streams.tenancy import TENANT_HEADER

from .harness import latest, read_raw

NOW = utcnow()


def create_ingest_topics(s: Settings, tenant: str) -> None:
    """The tenant's ingest topics, each with the catalog spec of its family."""
    catalog = [dataclasses.replace(spec(f), name=ingest_topic(tenant, f)) for f in INGEST_FAMILIES]
    apply_catalog(make_admin(s.kafka), s.topic_prefix, catalog=catalog)


def put_tenant(s: Settings, tenant: Tenant) -> None:
    p = make_producer(s.kafka)
    p.produce(s.topic_prefix + TENANTS, key=tenant.name.encode(), value=tenant.to_json())
    assert p.flush(30) == 0


def dip(n: int) -> Identifier:
    return Identifier.dip(f"NL-26-{n:04d}-1", 1)


def performance(n: int, venue: str) -> Performance:
    ident = dip(n)
    return Performance(fact_id=f"{ident.key}|v1", event_time=NOW - timedelta(hours=1), ingested_at=NOW,
                       source_system="dip", source_account="nl", performance_key=ident.key, identifiers=[ident],
                       title=f"Show {n}", genre="theater", venue=Venue(id=venue, name=f"Zaal {venue}",
                                                                       city="Gent"),
                       start=NOW + timedelta(days=20), capacity=100, status="SCHEDULED")


def sale(n: int, order: str, quantity: int) -> TicketEvent:
    ident = dip(n)
    return TicketEvent(fact_id=f"ticket:{order}", event_time=NOW - timedelta(minutes=5), ingested_at=NOW,
                       source_system="vendor", source_account=order.split("-")[0], performance_key=ident.key,
                       identifiers=[ident], event_type="SOLD", quantity=quantity, ticket_type="NORMAL",
                       price_cents=1500, channel="web")


class Facts:
    """Produces facts to shared or ingest topics (full names built here), headers as given."""

    def __init__(self, s: Settings) -> None:
        self.s = s
        self.registry = Registry(s.registry)
        self.producer = make_producer(s.kafka)

    def send(self, topic: str, fact: Performance | TicketEvent, headers: list[tuple[str, bytes]] | None = None
             ) -> None:
        schema = "performance.avsc" if isinstance(fact, Performance) else "ticket_event.avsc"
        value = AvroSerializer(self.registry, topic, schema)(fact)
        self.producer.produce(topic, key=fact.performance_key.encode(), value=value, headers=headers)
        assert self.producer.flush(30) == 0

    def calendar(self, fact: Performance) -> None:
        self.send(self.s.topic_prefix + PERFORMANCES, fact)

    def shared_ticket(self, fact: TicketEvent, headers: list[tuple[str, bytes]] | None = None) -> None:
        self.send(self.s.topic_prefix + TICKET_EVENTS, fact, headers)

    def ingest_calendar(self, tenant: str, fact: Performance) -> None:
        self.send(ingest_topic(tenant, PERFORMANCES, self.s.topic_prefix), fact)

    def ingest_ticket(self, tenant: str, fact: TicketEvent, headers: list[tuple[str, bytes]] | None = None
                      ) -> None:
        self.send(ingest_topic(tenant, TICKET_EVENTS, self.s.topic_prefix), fact, headers)


def sold(s: Settings) -> dict[str, int]:
    """Seats sold per performance, as the worker last published them."""
    return {pid: rec["sold"] for pid, rec in latest(s, AVAILABILITY, "availability.avsc").items() if rec}


def refusals(s: Settings) -> dict[str, str]:
    """Facts dead-lettered on participation.facts.dlq: fact id -> why."""
    read = FactReader(Registry(s.registry))
    return {str(read(r.value)[1]["fact_id"]): dict(r.headers or [])["errors.exception.message"].decode()
            for r in read_raw(s, [dlq_of(FACTS)]) if r.value}


def forwarded_tenants(s: Settings) -> dict[str, str | None]:
    """Ticket facts forwarded to participation.facts: fact id -> their tenant header (moves
    and the retractions of refused facts left out)."""
    read = FactReader(Registry(s.registry))
    out: dict[str, str | None] = {}
    for r in read_raw(s, [FACTS]):
        kind, rec = read(r.value or b"")
        if kind == "ticket" and MOVE_HEADER not in dict(r.headers or []):
            tenant = dict(r.headers or []).get(TENANT_HEADER)
            out[str(rec["fact_id"])] = None if tenant is None else tenant.decode()
    return out


def counted_copies(s: Settings) -> dict[str, str]:
    """The copies the facts agent wrote of tenants' facts it counted (``bus.codec.
    ACCEPTED_MOVE``; the only ones the ClickHouse sink stores): fact id -> tenant."""
    read = FactReader(Registry(s.registry))
    out: dict[str, str] = {}
    for r in read_raw(s, [FACTS]):
        headers = dict(r.headers or [])
        if headers.get(MOVE_HEADER, b"").decode().startswith(ACCEPTED_MOVE):
            out[str(read(r.value or b"")[1]["fact_id"])] = headers[TENANT_HEADER].decode()
    return out


def metric(port: int, name: str, labels: str = "") -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()  # noqa: S310
    for line in body.splitlines():
        if line.startswith(name + (f"{{{labels}}}" if labels else " ")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def tenant(name: str, *venues: str, **kw: Any) -> Tenant:
    return Tenant(name=name, kind="vendor", venues=tuple(venues), **kw)

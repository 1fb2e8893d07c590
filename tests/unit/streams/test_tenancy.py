"""Tenants' facts in the streams worker (issue #15 item 3): the tenant named by the topic,
the gate's verdicts and their reasons, and the facts agent's ownership screen holding a
fact until its performance's venue is known, then sending it again with its tenant."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from bus.codec import ACCEPTED_MOVE, accepted_move, stored_move
from bus.tenants import Tenant, TenantDirectory
from bus.topics import FACTS
from streams.facts.fact import Fact
from streams.facts.ownership import Ownership
from streams.metrics import StreamsMetrics
from streams.tenancy import REFUSED_MOVE, Gate, NotOwned, claims_of, production_of_pid

PID = "dip|NL-26-0001-1|00001"


def gate(*tenants: Tenant) -> Gate:
    return Gate(TenantDirectory(tenants), "p.")


def calendar(venue: str | None, production: str | None = None, source: str = "uitdatabank") -> dict[str, Any]:
    return {"fact_id": f"cal-{venue}", "performance_key": "uit|x", "venue": {"id": venue} if venue else None,
            "production_id": production, "identifiers": [], "source_system": source}


def test_the_tenant_is_the_ingest_topics_and_nothing_elses() -> None:
    g = gate()
    assert g.tenant_of("p.ingest.acme.ticketing.events") == "acme"
    assert g.tenant_of("p.ticketing.events") is None
    assert g.tenant_of("p.ingest.acme.participation.facts") is None  # not an ingest family
    assert g.tenant_of("ingest.acme.ticketing.events") is None  # another prefix's


def test_the_gate_says_who_may_not_and_why() -> None:
    g = gate(Tenant("acme", "vendor", venues=("v1",)), Tenant("gone", "vendor", venues=("v1",), revoked=True))
    assert g.check("acme", "vendor:x|1", ["v1"], []) is True
    with pytest.raises(NotOwned, match=r"^tenant acme is not registered for venue v2 \(performance vendor:x\|1\)$"):
        g.check("acme", "vendor:x|1", ["v2"], [])
    with pytest.raises(NotOwned, match=r"^tenant gone is revoked") as revoked:
        g.check("gone", "vendor:x|1", ["v1"], [])
    assert revoked.value.reason == "revoked"
    with pytest.raises(NotOwned, match=r"^tenant nobody is not in the tenant directory") as unknown:
        g.check("nobody", "vendor:x|1", ["v1"], [])
    assert unknown.value.reason == "unknown_tenant"
    assert g.check("acme", "vendor:x|1", None, []) is False  # venue not known yet: hold, do not guess


def test_a_dip_performance_id_names_its_production() -> None:
    assert production_of_pid(PID) == "NL-26-0001-1" and production_of_pid("uit|abc") is None
    g = gate(Tenant("prod", "vendor", productions=("NL-26-0001-1",)))
    assert g.check("prod", PID, None, []) is True  # known before any calendar fact
    assert claims_of({"venue": {"id": "v9"}, "production_id": "nl-1",
                      "identifiers": [{"namespace": "dip", "value": "NL-2|00001"}]}) == (["v9"], ["nl-1", "NL-2"])


def test_a_calendar_fact_from_a_tenant_must_name_one_of_its_venues_or_productions() -> None:
    g = gate(Tenant("acme", "vendor", venues=("v1",), productions=("NL-9",)))
    g.check_calendar("acme", calendar("v1"))
    g.check_calendar("acme", calendar("elsewhere", "nl-9"))
    with pytest.raises(NotOwned, match="not registered for venue v2 or production NL-8"):
        g.check_calendar("acme", calendar("v2", "NL-8"))


class Table(dict):  # type: ignore[type-arg]
    def put(self, key: str, value: Any) -> None:
        self[key] = value


def screen(o: Ownership, facts: list[Fact]) -> tuple[list[Fact], list[Any]]:
    out: list[Any] = []
    return asyncio.run(o.screen("vendor:x|1", facts, out)), out


def test_a_tenants_fact_waits_for_its_venue_then_goes_round_again_with_its_tenant() -> None:
    letters: list[tuple[Any, Exception]] = []

    async def dead_letter(event: Any, exc: Exception) -> None:
        letters.append((event, exc))

    metrics = StreamsMetrics(CollectorRegistry())
    o = Ownership(Table(), metrics, gate(Tenant("acme", "vendor", venues=("v1",))), dead_letter)
    sold = Fact("ticket", {"fact_id": "t1"}, 5, SimpleNamespace(value=b"T1"), None, "acme")
    kept, out = screen(o, [sold])
    assert kept == [] and out == [] and o.table["w:vendor:x|1"][0][3] == "t1"
    cal = Fact("performance", calendar("v1"), 9, SimpleNamespace(value=b"C"))
    kept, out = screen(o, [cal])
    assert kept == [cal]
    assert out == [(FACTS, "vendor:x|1", b"T1", "ticket", None, "acme")]  # judged again when it returns
    assert o.table["w:vendor:x|1"] == [] and o.table["o:vendor:x|1"] == [["v1"], []]
    kept, out = screen(o, [Fact("ticket", {"fact_id": "t1"}, 12, SimpleNamespace(value=b"T1"), None, "acme")])
    assert len(kept) == 1 and not letters
    other = Fact("ticket", {"fact_id": "t2"}, 13, SimpleNamespace(value=b"T2"), None, "rival")
    kept, out = screen(o, [other])
    assert out == []  # nothing for the sink: it stores a tenant's fact only once counted
    assert kept == [] and [str(e) for _, e in letters] == [
        "tenant rival is not in the tenant directory (performance vendor:x|1); add it with `cultuurbus "
        "tenant add` or stop its connector"]
    assert metrics.tenant_refused.labels("unknown_tenant")._value.get() == 1


def test_only_a_sector_calendar_says_whose_performance_it_is() -> None:
    # A venue's own page, or a tenant's own description, naming the tenant's venue does not
    # make the tenant an owner: else a vendor could claim anybody's performance.
    async def dead_letter(event: Any, exc: Exception) -> None:
        raise AssertionError("nothing is refused while the venue is unknown")

    o = Ownership(Table(), StreamsMetrics(CollectorRegistry()),
                  gate(Tenant("acme", "vendor", venues=("v1",))), dead_letter)
    sold = Fact("ticket", {"fact_id": "t1"}, 5, SimpleNamespace(value=b"T1"), None, "acme")
    page = Fact("performance", calendar("v1", source="schemaorg"), 6, SimpleNamespace(value=b"P"))
    own = Fact("performance", calendar("v1"), 7, SimpleNamespace(value=b"O"), None, "acme")
    kept, out = screen(o, [sold, page, own])
    assert kept == [page, own]  # counted as descriptions ...
    assert out == [] and "o:vendor:x|1" not in o.table  # ... but the ticket still waits
    assert o.table["w:vendor:x|1"][0][3] == "t1"


def test_the_sink_stores_a_tenants_fact_only_from_its_counted_copy() -> None:
    # what the facts agent writes once it counted a tenant's fact, and how the sink reads it
    assert accepted_move(None) == ACCEPTED_MOVE and accepted_move("retract/1") == "accepted:retract/1"
    assert stored_move(None, None) == (True, None)  # a fact of a trusted connector
    assert stored_move("retract/1", None) == (True, "retract/1")
    assert stored_move(None, "acme") == (False, None)  # as identity forwarded it: maybe held, maybe refused
    assert stored_move("retract/1", "acme") == (False, "retract/1")
    assert stored_move(REFUSED_MOVE, "acme")[0] is False
    assert stored_move(accepted_move(None), "acme") == (True, None)
    assert stored_move(accepted_move("2"), "acme") == (True, "2")
    assert stored_move(accepted_move("retract/2"), "acme") == (True, "retract/2")

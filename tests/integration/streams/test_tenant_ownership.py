"""Issue #15 item 3: a vendor tenant's facts are counted only for the venues it is
registered for, and who sent a fact is told by the ingest topic it arrived on, never by a
header. Real broker, registry and worker; the tenant directory on ``access.tenants``."""

from __future__ import annotations

from pathlib import Path

import pytest

from bus.settings import Settings
from bus.tenants import ingest_topic
from bus.topics import PERFORMANCES, dlq_of
from streams.tenancy import TENANT_HEADER

from .harness import Raw, Worker, read_raw, wait_until
from .tenant_facts import (
    Facts,
    counted_copies,
    create_ingest_topics,
    dip,
    forwarded_tenants,
    metric,
    performance,
    put_tenant,
    refusals,
    sale,
    sold,
    tenant,
)

pytestmark = [pytest.mark.integration]

STEP_S = 180  # bound on each wait for the worker (startup included)


def test_a_tenant_counts_only_its_own_venues_and_the_topic_not_a_header_names_it(
        streams_settings: Settings, workdir: Path) -> None:
    s = streams_settings
    for name in ("acme", "rival"):
        create_ingest_topics(s, name)
    put_tenant(s, tenant("acme", "v-acme"))
    put_tenant(s, tenant("rival", "v-rival"))
    facts = Facts(s)
    facts.calendar(performance(1, "v-acme"))
    facts.calendar(performance(2, "v-rival"))
    a, b = dip(1).key, dip(2).key
    worker = Worker("w1", s, workdir / "w1", workdir / "w1.log").start()
    try:
        assert wait_until(lambda: {a, b} <= set(sold(s)), STEP_S), "the calendar was not taken"
        forged = [(TENANT_HEADER, b"acme")]
        facts.ingest_ticket("acme", sale(1, "acme-1", 2))              # its own venue: counted
        facts.ingest_ticket("acme", sale(2, "acme-2", 3))              # the rival's venue: refused
        facts.shared_ticket(sale(2, "shared-3", 1), forged)            # shared topic: nobody's, counted
        facts.ingest_ticket("rival", sale(2, "rival-4", 4), forged)    # rival's topic: rival's, counted
        facts.ingest_ticket("rival", sale(1, "rival-5", 5), forged)    # rival's, not acme's: refused
        facts.ingest_calendar("acme", performance(3, "v-acme"))         # its own venue: a performance
        facts.ingest_calendar("acme", performance(4, "v-rival"))        # another's: refused, links nothing
        c, d = dip(3).key, dip(4).key

        def settled() -> bool:
            return sold(s) == {a: 2, b: 5, c: 0} and len(refusals(s)) == 2 and bool(calendar_letters())

        def calendar_letters() -> list[Raw]:
            return read_raw(s, [dlq_of(PERFORMANCES)])
        assert wait_until(settled, STEP_S), f"sold {sold(s)}, refused {refusals(s)}"
        # what the sink may store of tenants' facts: what was counted, nothing refused
        counted = {"ticket:acme-1": "acme", "ticket:rival-4": "rival", f"{dip(3).key}|v1": "acme"}
        assert wait_until(lambda: counted_copies(s) == counted, STEP_S), counted_copies(s)
        refused_count = metric(worker.port, "cultuurbus_streams_tenant_refused_total", 'reason="not_registered"')
    finally:
        worker.stop()

    assert sold(s) == {a: 2, b: 5, c: 0}  # the refused 3 and 5 seats never counted; no performance d
    [letter] = calendar_letters()
    headers = dict(letter.headers or [])
    assert headers["errors.topic"].decode() == ingest_topic("acme", PERFORMANCES, s.topic_prefix)
    assert headers["errors.exception.message"].decode() == (
        f"tenant acme is not registered for venue v-rival or production NL-26-0004-1 (performance {d})")
    why = refusals(s)
    assert set(why) == {"ticket:acme-2", "ticket:rival-5"}
    assert why["ticket:acme-2"] == ("tenant acme is not registered for venue v-rival or production "
                                    f"NL-26-0002-1 (performance {b})")
    assert why["ticket:rival-5"] == ("tenant rival is not registered for venue v-acme or production "
                                     f"NL-26-0001-1 (performance {a})")
    assert refused_count == 3  # two ticket facts and the calendar fact
    tenants = forwarded_tenants(s)
    assert tenants["ticket:shared-3"] is None  # the forged header did not travel on
    assert tenants["ticket:rival-4"] == "rival" and tenants["ticket:rival-5"] == "rival"
    assert tenants["ticket:acme-1"] == "acme"

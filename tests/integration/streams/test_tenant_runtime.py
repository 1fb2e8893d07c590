"""Issue #15 item 3, while the worker runs: revoking a tenant stops its next fact from
counting, a tenant added (directory record and ingest topics) is read within seconds
without a restart, a tenant missing from the directory counts nothing, and a directory
record that cannot be read is dead-lettered, not fatal. Real broker,
registry and worker."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bus.kafka import make_producer
from bus.settings import Settings
from bus.topics import TENANTS, dlq_of

from . import tenant_facts as tf
from .harness import Worker, read_raw, wait_until

pytestmark = [pytest.mark.integration]

STEP_S = 180  # bound on each wait for the worker (startup included)
NEW_TENANT_S = 30  # a tenant added at run time is read within this (Faust alone: 45 s, then a rebalance)


def test_revoked_added_and_unknown_tenants_while_the_worker_runs(streams_settings: Settings,
                                                                  workdir: Path) -> None:
    s = streams_settings
    for name in ("acme", "ghost"):  # ghost has ingest topics but is not in the directory
        tf.create_ingest_topics(s, name)
    tf.put_tenant(s, tf.tenant("acme", "v-acme"))
    broken = make_producer(s.kafka)  # a directory record no tenant can be read from: dead-lettered
    broken.produce(s.topic_prefix + TENANTS, key=b"broken", value=b'{"name": "broken", "kind": "bank"}')
    assert broken.flush(30) == 0
    facts = tf.Facts(s)
    for n, venue in ((1, "v-acme"), (2, "v-ghost"), (3, "v-new")):
        facts.calendar(tf.performance(n, venue))
    a, g, new = tf.dip(1).key, tf.dip(2).key, tf.dip(3).key
    worker = Worker("w1", s, workdir / "w1", workdir / "w1.log").start()
    try:
        assert wait_until(lambda: {a, g, new} <= set(tf.sold(s)), STEP_S), "the calendar was not taken"
        facts.ingest_ticket("acme", tf.sale(1, "acme-1", 2))
        facts.ingest_ticket("ghost", tf.sale(2, "ghost-2", 3))
        assert wait_until(lambda: tf.sold(s)[a] == 2 and len(tf.refusals(s)) == 1, STEP_S), tf.sold(s)

        tf.put_tenant(s, tf.tenant("acme", "v-acme", revoked=True))
        time.sleep(3)  # revocation takes effect within seconds
        facts.ingest_ticket("acme", tf.sale(1, "acme-3", 4))

        tf.put_tenant(s, tf.tenant("newco", "v-new"))
        tf.create_ingest_topics(s, "newco")
        added = time.monotonic()
        facts.ingest_ticket("newco", tf.sale(3, "newco-4", 5))
        counted = wait_until(lambda: tf.sold(s).get(new) == 5, NEW_TENANT_S, interval=0.5)
        took = time.monotonic() - added
        assert counted, f"a tenant added at run time was not read within {NEW_TENANT_S} s: {tf.sold(s)}"
        assert wait_until(lambda: len(tf.refusals(s)) == 2, STEP_S), tf.refusals(s)
        revoked = tf.metric(worker.port, "cultuurbus_streams_tenant_refused_total", 'reason="revoked"')
        unknown = tf.metric(worker.port, "cultuurbus_streams_tenant_refused_total", 'reason="unknown_tenant"')
    finally:
        worker.stop()

    print(f"new tenant's first fact counted {took:.1f} s after its topics were created")
    assert tf.sold(s) == {a: 2, g: 0, new: 5}  # acme's 4 after revocation and ghost's 3 never counted
    why = tf.refusals(s)
    assert why["ticket:acme-3"] == f"tenant acme is revoked (performance {a})"
    assert why["ticket:ghost-2"].startswith(f"tenant ghost is not in the tenant directory (performance {g})")
    assert (revoked, unknown) == (1, 1)
    [letter] = read_raw(s, [dlq_of(TENANTS)])
    assert letter.key == b"broken"
    assert b"kind 'bank' is not one of" in dict(letter.headers or [])["errors.exception.message"]

"""The tenant model: names, ingest topics, tokens and the directory's records."""

from __future__ import annotations

import pytest

from bus.tenants import (
    INGEST_FAMILIES,
    Tenant,
    TenantDirectory,
    TenantError,
    hash_token,
    ingest_prefix,
    ingest_topic,
    principal_of,
    tenant_of_topic,
)


@pytest.mark.parametrize("bad", ["", "Acme", "acme_north", "-acme", "acme-", "a" * 41, "acme.north"])
def test_a_name_that_could_break_topic_or_acl_prefixes_is_refused(bad: str) -> None:
    with pytest.raises(TenantError, match="lower-case letters"):
        principal_of(bad)


def test_one_tenants_ingest_prefix_does_not_cover_a_longer_names_topics() -> None:
    # The broker's PREFIXED ACL is a plain string prefix: the trailing dot is what keeps
    # tenant "acme" from writing "acme-north"'s topics.
    theirs = ingest_topic("acme-north", "ticketing.events", "p.")
    assert not theirs.startswith(ingest_prefix("acme", "p."))
    assert ingest_topic("acme", "ticketing.events", "p.").startswith(ingest_prefix("acme", "p."))


def test_the_topic_names_its_tenant_and_only_ingest_topics_name_one() -> None:
    for family in INGEST_FAMILIES:
        assert tenant_of_topic(ingest_topic("acme", family, "p."), "p.") == ("acme", family)
    assert tenant_of_topic("p.ticketing.events", "p.") is None
    assert tenant_of_topic("p.ingest.acme.participation.sales", "p.") is None
    assert tenant_of_topic("q.ingest.acme.ticketing.events", "p.") is None
    with pytest.raises(TenantError, match="not an ingest topic family"):
        ingest_topic("acme", "participation.sales")


def test_a_token_is_found_by_its_hash_and_stops_working_when_revoked_or_rotated() -> None:
    t = Tenant("acme", "venue", venues=("v1",), token_sha256=hash_token("secret-1"))
    d = TenantDirectory([t])
    assert d.by_token("secret-1") == t
    assert d.by_token("secret-2") is None
    d.put(t.changed(token_sha256=hash_token("secret-2")))
    assert d.by_token("secret-1") is None
    assert d.by_token("secret-2") is not None
    d.put(d.get("acme").changed(revoked=True))  # type: ignore[union-attr]
    assert d.by_token("secret-2") is None
    assert d.active("acme") is None
    assert d.get("acme") is not None  # kept for audit


def test_directory_records_round_trip_and_bad_ones_say_what_is_wrong() -> None:
    t = Tenant("acme", "vendor", venues=("dip:T1",), productions=("P9",))
    d = TenantDirectory()
    d.apply(b"acme", t.to_json())
    assert d.get("acme") == t
    with pytest.raises(TenantError, match="keyed 'other'"):
        d.apply(b"other", t.to_json())
    with pytest.raises(TenantError, match="not JSON"):
        d.apply(b"acme", b"{nope")
    with pytest.raises(TenantError, match="unknown fields"):
        d.apply(b"acme", b'{"name": "acme", "kind": "venue", "password": "x"}')
    with pytest.raises(TenantError, match="kind 'king'"):
        d.apply(b"acme", b'{"name": "acme", "kind": "king"}')
    d.apply(b"acme", None)
    assert d.get("acme") is None


def test_ownership_is_by_registered_venue_or_production_only() -> None:
    t = Tenant("acme", "vendor", venues=("dip:T1",), productions=("P9",))
    assert t.owns_venue("dip:T1") and not t.owns_venue("dip:T2") and not t.owns_venue(None)
    assert t.owns_production("P9") and not t.owns_production("P1")

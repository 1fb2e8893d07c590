"""The venue crosswalk without Faust: one venue under a DIP theater id, a UiTdatabank place
id and a vendor location is one venue; two buildings never are."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import fastavro
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from bus.topics import FACTS, VENUE_LINKS, VENUES
from schemas import load_schema
from streams.identity.crosswalk import Crosswalk
from streams.identity.domain import Identity
from streams.identity.matching import Description, Matcher
from streams.identity.venue_agents import EVIDENCE_KIND, VenueDesk, VenueEvidence
from streams.identity.venues import VenueCrosswalk, VenueDecider, VenueDesc
from streams.metrics import StreamsMetrics

LINK = fastavro.parse_schema(load_schema("venue_link.avsc"))
IDENTITY_LINK = fastavro.parse_schema(load_schema("identity_link.avsc"))
T0 = 1_767_225_600_000

UIT = VenueDesc("0f7a2c1e-5b3d-4e8f-9a1b-2c3d4e5f6a7b", "Stadsschouwburg Brugge", "Brugge", "8000", "BE")
DIP = VenueDesc("dip:theater:1234", "Stadsschouwburg", "Brugge", None, "BE")
TM = VenueDesc("ticketmatic:brugge:location:7", "Grote Zaal")
SCHEMA = VenueDesc("https://www.ccbrugge.be/#place", "Stadsschouwburg", "Brugge", "8000", "BE")
ELSEWHERE = VenueDesc("1a2b3c4d-0000-4000-8000-000000000001", "Stadsschouwburg", "Kortrijk", "8500", "BE")


def encode(link: dict[str, Any], schema: Any = LINK) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, link)
    return buf.getvalue()


def decode(raw: bytes) -> dict[str, Any]:
    return fastavro.schemaless_reader(io.BytesIO(raw), LINK, LINK)  # type: ignore[return-value]


def evidence(desc: VenueDesc, performance: str) -> bytes:
    return json.dumps({"performance": performance, "venue": desc._asdict()}).encode()


def test_venues_named_by_descriptions_of_one_performance_are_one_venue_under_the_dip_theater_id() -> None:
    d = VenueDecider()
    for desc in (TM, UIT, DIP):
        d.describe(desc)
        d.host("uit|ev-1#0", desc.id)
    entries = d.entries()
    assert {e["canonical_id"] for e in entries.values()} == {DIP.id}
    assert entries[TM.id]["reason"] == "performance" and entries[TM.id]["evidence"] == "uit|ev-1#0"
    assert entries[DIP.id]["reason"] == "founded"


def test_without_a_dip_theater_the_uitdatabank_place_is_the_canonical_venue() -> None:
    d = VenueDecider()
    for desc in (TM, UIT):
        d.describe(desc)
        d.host("uit|ev-1#0", desc.id)
    assert d.canonical(TM.id) == UIT.id


def test_two_venues_with_alike_names_in_one_postcode_area_are_linked_by_match_with_the_score() -> None:
    d = VenueDecider()
    d.describe(UIT)
    d.describe(SCHEMA)
    entry = d.entry(SCHEMA.id)
    assert entry["canonical_id"] == UIT.id and entry["reason"] == "match" and entry["score"] == 100.0


def test_the_same_name_in_another_postcode_area_or_another_country_is_never_one_venue() -> None:
    d = VenueDecider()
    for desc in (UIT, ELSEWHERE, VenueDesc("nl:place:9", "Stadsschouwburg Brugge", "Brugge", "8000", "NL")):
        d.describe(desc)
    assert {d.canonical(v) for v in d.descs} == set(d.descs)
    assert all(e["candidate_id"] is None for e in d.entries().values())


def test_a_vendor_location_without_an_address_is_never_matched_by_name_alone() -> None:
    d = VenueDecider()
    d.describe(VenueDesc("ticketmatic:a:location:1", "Stadsschouwburg"))
    d.describe(VenueDesc("ticketmatic:b:location:1", "Stadsschouwburg"))
    assert d.canonical("ticketmatic:a:location:1") == "ticketmatic:a:location:1"


def test_a_doubtful_name_in_one_city_is_a_candidate_for_a_person_not_a_link() -> None:
    d = VenueDecider()
    d.describe(VenueDesc("uit-a", "Schouwburg", "Brugge", None, "BE"))
    d.describe(VenueDesc("uit-b", "Stadsschouwburg", "Brugge", None, "BE"))
    entry = d.entry("uit-b")
    assert entry["canonical_id"] == "uit-b" and entry["candidate_id"] == "uit-a"
    assert 75 <= entry["candidate_score"] < 90


EVIDENCE = [(desc, perf) for desc, perf in [
    (UIT, "uit|e1#0"), (TM, "uit|e1#0"), (DIP, "dip|P|00001"), (UIT, "dip|P|00001"), (SCHEMA, "schema|x"),
    (ELSEWHERE, "uit|e2#0"), (VenueDesc("ticketmatic:kortrijk:location:3", "Zaal 1"), "uit|e2#0"),
    (VenueDesc("uit-c", "Schouwburg", "Brugge", None, "BE"), "uit|e3#0"),
    (VenueDesc("eventbrite:77", "Stadsschouwburg Brugge", "Brugge", None, "BE"), "uit|e4#0")]]


@settings(max_examples=60, deadline=None)
@given(st.permutations(EVIDENCE))
def test_every_arrival_order_gives_the_same_canonical_venues_reasons_and_candidates(
        order: list[tuple[VenueDesc, str]]) -> None:
    def run(items: list[tuple[VenueDesc, str]]) -> dict[str, Any]:
        d = VenueDecider()
        for desc, perf in items:
            d.describe(desc)
            d.host(perf, desc.id)
        return d.entries()

    assert run(order) == run(EVIDENCE)
    assert run(order)[TM.id]["canonical_id"] == DIP.id
    assert run(order)[ELSEWHERE.id]["canonical_id"] == ELSEWHERE.id


def test_the_desk_publishes_each_changed_entry_once_and_rebuilds_from_its_table() -> None:
    table: dict[str, Any] = {}
    desk = VenueDesk(table, encode, now_ms=lambda: T0)
    out: list[Any] = []
    for desc in (UIT, TM, DIP):
        assert desk.evidence(None, evidence(desc, "uit|ev-1#0"), out) is None
    published = {k: decode(v) for t, k, v, _ in out if t == VENUE_LINKS}
    assert {v["canonical_id"] for v in published.values()} == {DIP.id}
    again: list[Any] = []
    desk.evidence(None, evidence(TM, "uit|ev-1#0"), again)
    assert again == []
    rebuilt = VenueDesk(dict(table), encode, now_ms=lambda: T0)
    asyncio.run(rebuilt.recovered())
    assert rebuilt.decider.entries() == desk.decider.entries()
    redelivered: list[Any] = []  # a crash may have kept the table but lost the records: all again
    rebuilt.evidence(None, evidence(TM, "uit|ev-1#0"), redelivered)
    assert {k: decode(v) for t, k, v, _ in redelivered if t == VENUE_LINKS} == published


def test_unreadable_evidence_is_handed_back_to_be_dead_lettered() -> None:
    desk = VenueDesk({}, encode, now_ms=lambda: T0)
    assert isinstance(desk.evidence(None, b"{not json", []), ValueError)
    assert isinstance(desk.evidence(None, json.dumps({"performance": "p", "venue": {"name": "x"}}).encode(), []),
                      ValueError)


def decision(action: str, a: str, b: str | None = None) -> bytes:
    return json.dumps({"decision": {"action": action, "a": a, "b": b, "by": "anna"}}).encode()


def test_a_person_accepts_a_candidate_and_the_two_are_one_venue_with_who_decided() -> None:
    desk = VenueDesk({}, encode, now_ms=lambda: T0)
    a, b = VenueDesc("uit-a", "Schouwburg", "Brugge", None, "BE"), VenueDesc("uit-b", "Stadsschouwburg",
                                                                              "Brugge", None, "BE")
    for desc in (a, b):
        desk.evidence(None, evidence(desc, f"p-{desc.id}"), [])
    assert desk.decider.entry("uit-b")["candidate_id"] == "uit-a"
    out: list[Any] = []
    assert desk.evidence(None, decision("accept", "uit-b", "uit-a"), out) is None
    published = {k: decode(v) for t, k, v, _ in out if t == VENUE_LINKS}
    assert published["uit-b"]["canonical_id"] == "uit-a"
    assert (published["uit-b"]["reason"], published["uit-b"]["evidence"]) == ("person", "anna")


def test_undo_takes_a_venue_id_out_for_good_and_a_rebuild_keeps_the_decision() -> None:
    table: dict[str, Any] = {}
    desk = VenueDesk(table, encode, now_ms=lambda: T0)
    for desc in (UIT, TM, DIP):
        desk.evidence(None, evidence(desc, "uit|ev-1#0"), [])
    assert desk.decider.canonical(TM.id) == DIP.id
    out: list[Any] = []
    assert desk.evidence(None, decision("undo", TM.id), out) is None
    published = {k: decode(v) for t, k, v, _ in out if t == VENUE_LINKS}
    assert published[TM.id]["canonical_id"] == TM.id and published[TM.id]["reason"] == "founded"
    assert desk.decider.canonical(UIT.id) == DIP.id  # the others stay one venue
    desk.evidence(None, evidence(TM, "dip|P|00009"), [])  # a performance names TM and DIP again
    desk.evidence(None, evidence(DIP, "dip|P|00009"), [])
    assert desk.decider.canonical(TM.id) == TM.id, "a person's undo is not outvoted by evidence"
    rebuilt = VenueDesk(dict(table), encode, now_ms=lambda: T0)
    asyncio.run(rebuilt.recovered())
    assert rebuilt.decider.entries() == desk.decider.entries()
    desk.evidence(None, decision("accept", TM.id, DIP.id), [])
    assert desk.decider.canonical(TM.id) == DIP.id  # only a person joins them again


def test_a_rejected_pair_is_never_matched_by_name_again_and_a_bad_decision_is_a_dead_letter() -> None:
    desk = VenueDesk({}, encode, now_ms=lambda: T0)
    desk.evidence(None, evidence(UIT, "p1"), [])
    desk.evidence(None, decision("reject", SCHEMA.id, UIT.id), [])
    desk.evidence(None, evidence(SCHEMA, "p2"), [])  # same postcode area, names alike: would link
    assert desk.decider.canonical(SCHEMA.id) == SCHEMA.id
    assert isinstance(desk.evidence(None, decision("merge", UIT.id, SCHEMA.id), []), ValueError)
    assert isinstance(desk.evidence(None, decision("accept", UIT.id), []), ValueError)


def test_a_venue_of_unknown_country_is_never_matched_by_name_and_keeps_no_country() -> None:
    d = VenueDecider()
    d.describe(VenueDesc("eventbrite:9", "Stadsschouwburg Brugge", "Brugge", "8000", None))
    d.describe(UIT)
    assert d.canonical("eventbrite:9") == "eventbrite:9"
    assert d.entry("eventbrite:9")["country"] is None
    assert VenueDesc.of({"id": "ticketmatic:x:location:1", "name": "Zaal"}).country is None


def _identity() -> tuple[Identity, Crosswalk]:
    cw = Crosswalk()
    ident = Identity(cw, {}, StreamsMetrics(CollectorRegistry()), lambda rec: encode(rec, IDENTITY_LINK),
                     venue_evidence=VenueEvidence().note)
    return ident, cw


def test_a_calendar_fact_linked_to_a_performance_tells_the_venue_decider_once_and_ticket_facts_never() -> None:
    ident, cw = _identity()
    cw.put("uit|E1", "uit|E1")
    cal = {"fact_id": "c1", "performance_key": "vendor:ticketmatic:brugge|5", "event_time": T0, "start": T0,
           "identifiers": [{"namespace": "uit", "value": "E1"}], "venue": TM._asdict()}
    out: list[Any] = []
    ident.learn("performance", cal, b"raw", out)
    sent = [o for o in out if o[0] == VENUES]
    assert [(k, kind, json.loads(v)["performance"]) for _, k, v, kind in sent] == [(TM.id, EVIDENCE_KIND, "uit|E1")]
    again: list[Any] = []
    ident.learn("performance", {**cal, "fact_id": "c2"}, b"raw2", again)
    assert [o for o in again if o[0] == VENUES] == []
    tickets: list[Any] = []
    ticket = {"fact_id": "t1", "performance_key": "uit|E1", "event_time": T0, "identifiers": []}
    ident.route(None, "uit|E1", "ticket", ticket, b"t", tickets)
    assert tickets == [(FACTS, "uit|E1", b"t", "ticket")]


def test_the_matcher_scores_a_vendor_location_and_the_uitdatabank_place_it_is_as_one_venue() -> None:
    venues = VenueCrosswalk()
    at = 1_780_000_000_000
    uit = Description(("uit|e#0",), "uitdatabank/c", "Hamlet", at, UIT.name, UIT.city, UIT.postcode, UIT.id)
    tm = Description(("vendor:ticketmatic:brugge|5",), "ticketmatic/brugge", "Hamlet", at, TM.name, None, None,
                     TM.id)
    matcher = Matcher(same_venue=venues.same)
    assert "venue 75" in matcher.score(uit, tm)[1]
    venues.put(TM.id, UIT.id)
    assert "venue 100" in matcher.score(uit, tm)[1]

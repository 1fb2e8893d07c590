"""Matching descriptions no identifier links: the rules a person relies on, and invariants."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import tracemalloc
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from bus.topics import FACTS, IDENTITY, MATCH, RELEASE, REVIEW, UNMATCHED
from schemas import load_schema
from streams.identity.crosswalk import Crosswalk
from streams.identity.domain import KNOWN_KIND, Identity
from streams.identity.match_domain import MatchDesk
from streams.identity.matching import Description, Matcher, description_of, normalise
from streams.identity.reroute import Rerouter
from streams.metrics import StreamsMetrics

EVENING = int(datetime(2026, 12, 5, 19, 15, tzinfo=UTC).timestamp() * 1000)  # 20:15 in Amsterdam
MATINEE = int(datetime(2026, 12, 5, 13, 30, tzinfo=UTC).timestamp() * 1000)  # 14:30
MIN = 60_000


def uit(start: int = EVENING, title: str = "De Kersentuin", sub: int = 0, **venue: str) -> Description:
    where = {"venue_name": "Stadsschouwburg Leuven", "venue_city": "Leuven", "venue_postcode": "3000",
             "venue_id": "uit:place:1", **venue}
    return Description(keys=(f"uit|ev-1#{sub}",), source="uitdatabank/cultuurnet", title=title, start_ms=start,
                       **where)


def tm(start: int = EVENING, title: str = "De Kersentuin", event: int = 101, account: str = "leuven",
       **venue: str) -> Description:
    where = {"venue_name": "Grote Zaal", "venue_id": f"ticketmatic:{account}:location:125", **venue}
    return Description(keys=(f"vendor:ticketmatic:{account}|{event}",), source=f"ticketmatic/{account}",
                       title=title, start_ms=start, **where)


def known(*descriptions: Description, **kw: float) -> Matcher:
    m = Matcher(**kw)  # type: ignore[arg-type]
    for d in descriptions:
        m.add(d, d.keys[0])
    return m


def test_a_vendor_event_with_the_same_title_and_start_is_linked_to_the_calendar_performance() -> None:
    decision = known(uit()).decide(tm())
    assert (decision.outcome, decision.target) == ("link", "uit|ev-1#0")
    assert decision.score >= 90 and decision.reason == "match: title 100, venue 75, start +0 min"


def test_door_time_against_curtain_time_and_a_subtitle_still_match() -> None:
    decision = known(uit(title="De Kersentuin (Tsjechov) - NTGent")).decide(tm(start=EVENING - 40 * MIN))
    assert decision.outcome == "link"
    assert "start +40 min" in decision.reason or "start -40 min" in decision.reason


def test_a_matinee_is_never_matched_with_the_evening_show_of_the_same_day_even_with_identical_titles() -> None:
    m = known(uit(start=EVENING, sub=1))
    assert m.decide(tm(start=MATINEE)).outcome == "new"
    both = known(uit(start=MATINEE, sub=0), uit(start=EVENING, sub=1))
    assert both.decide(tm(start=MATINEE)).target == "uit|ev-1#0"
    assert both.decide(tm(start=EVENING)).target == "uit|ev-1#1"


def test_two_descriptions_from_the_same_source_are_never_matched() -> None:
    decision = known(tm(event=101)).decide(tm(event=102))
    assert decision.outcome == "new" and "same source" in decision.reason


def test_two_ids_of_one_namespace_with_different_values_are_two_performances() -> None:
    other = Description(keys=("schemaorg:venue|p9", "uit|ev-2#0"), source="schemaorg/leuven",
                        title="De Kersentuin", start_ms=EVENING, venue_name="Stadsschouwburg Leuven",
                        venue_city="Leuven")
    assert known(uit()).decide(other).outcome == "new"


def test_a_performance_already_linked_to_a_vendor_event_is_not_matched_by_another_event_of_that_vendor() -> None:
    m = known(uit())
    m.add(tm(event=101), "uit|ev-1#0")
    assert m.decide(tm(event=102)).outcome == "new"


def test_a_start_beyond_the_tolerance_is_a_new_performance() -> None:
    m = known(uit(), start_tolerance_s=45 * 60)
    assert m.decide(tm(start=EVENING + 45 * MIN)).outcome == "link"
    assert m.decide(tm(start=EVENING + 46 * MIN)).outcome == "new"


def test_the_same_title_in_another_city_goes_to_review_and_another_title_in_the_same_hall_is_new() -> None:
    elsewhere = known(uit()).decide(tm(venue_city="Gent"))
    assert elsewhere.outcome == "review" and elsewhere.target == "uit|ev-1#0"
    assert known(uit()).decide(tm(title="Wachten op Godot")).outcome == "new"


def test_the_venues_city_after_the_title_and_a_kind_before_it_still_link() -> None:
    listed = known(uit(title="De Kersentuin - NTGent"))
    assert listed.decide(tm(title="De Kersentuin | Leuven", venue_city="Leuven")).outcome == "link"
    assert listed.decide(tm(title="Voorstelling: De Kersentuin")).outcome == "link"


def test_a_title_shared_only_as_one_part_beside_another_company_goes_to_a_person_not_a_link() -> None:
    decision = known(uit(title="Toneelgroep Maastricht: De Kersentuin")).decide(tm(title="De Kersentuin - NTGent"))
    assert (decision.outcome, decision.target) == ("review", "uit|ev-1#0")


def test_two_shows_of_one_company_in_two_halls_at_one_hour_are_never_linked_by_the_company_name() -> None:
    decision = known(uit(title="Hamlet - Toneelhuis")).decide(tm(title="Macbeth - Toneelhuis"))
    assert decision.outcome != "link"


def test_thresholds_are_settings() -> None:
    assert known(uit(), link_at=99, review_at=50).decide(tm()).outcome == "review"
    assert known(uit(), link_at=90, review_at=80).decide(tm(venue_city="Gent")).outcome == "new"
    with pytest.raises(ValueError, match="match_review_at"):
        Matcher(link_at=70, review_at=80)


def test_titles_are_compared_without_case_accents_or_punctuation() -> None:
    assert normalise("  Ça, c'est LE Théâtre!  ") == "ca c est le theatre"
    assert known(uit(title="Café Müller")).decide(tm(title="CAFE MULLER")).outcome == "link"


def test_a_description_of_a_decoded_performance_names_its_keys_source_and_venue() -> None:
    d = description_of({"performance_key": "uit|e#0", "identifiers": [{"namespace": "dip", "value": "P|1"}],
                        "source_system": "uitdatabank", "source_account": "c", "title": "T", "start": EVENING,
                        "venue": {"id": "v", "name": "Zaal", "city": "Gent", "postcode": "9000"}})
    assert d == Description(("uit|e#0", "dip|P|1"), "uitdatabank/c", "T", EVENING, "Zaal", "Gent", "9000", "v")


TITLES = st.sampled_from(["De Kersentuin", "Hamlet", "Wachten op Godot", "Café Müller", "hamlet!", ""])
CITIES = st.sampled_from([None, "Leuven", "Gent", "Amsterdam"])
SOURCES = st.sampled_from(["uitdatabank/c", "ticketmatic/a", "ticketmatic/b", "schemaorg/x"])
NS = st.sampled_from(["uit", "dip", "vendor:ticketmatic:a", "vendor:eventix:b"])


@st.composite
def descriptions(draw: st.DrawFn) -> Description:
    keys = tuple(dict.fromkeys(f"{draw(NS)}|{draw(st.integers(0, 3))}" for _ in range(draw(st.integers(1, 3)))))
    return Description(keys=keys, source=draw(SOURCES), title=draw(TITLES),
                       start_ms=EVENING + draw(st.integers(-180, 180)) * MIN, venue_name=draw(TITLES),
                       venue_city=draw(CITIES), venue_postcode=None, venue_id=None)


@settings(max_examples=200, deadline=None)
@given(st.lists(descriptions(), min_size=1, max_size=6), descriptions())
def test_a_link_or_review_never_joins_the_same_source_nor_starts_beyond_the_tolerance(
        known_ones: list[Description], new: Description) -> None:
    m = Matcher(start_tolerance_s=45 * 60)
    for i, d in enumerate(known_ones):
        m.add(d, f"perf-{i}")
    decision = m.decide(new)
    if decision.outcome == "new":
        assert decision.target is None
        return
    i = int(str(decision.target).split("-")[1])
    target = known_ones[i]
    assert target.source != new.source
    assert abs(target.start_ms - new.start_ms) <= 45 * MIN
    theirs = {k.split("|")[0] for k in target.keys}
    assert all(key in target.keys for key in new.keys if key.split("|")[0] in theirs), "an id of theirs differs"


@settings(max_examples=200, deadline=None)
@given(descriptions(), descriptions())
def test_scores_are_symmetric_and_between_0_and_100(a: Description, b: Description) -> None:
    m = Matcher()
    ab, ba = m.score(a, b)[0], m.score(b, a)[0]
    assert ab == ba and 0 <= ab <= 100


# -- the match desk: what identity-match does with each description and decision --------------

LINK = fastavro.parse_schema(load_schema("identity_link.avsc"))
CANDIDATE = fastavro.parse_schema(load_schema("identity_candidate.avsc"))
NOW = EVENING - 86_400_000


def _avro(schema: Any, rec: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, schema, rec)
    return buf.getvalue()


def _read(schema: Any, raw: bytes) -> dict[str, Any]:
    return fastavro.schemaless_reader(io.BytesIO(raw), schema, schema)  # type: ignore[return-value]


def performance(key: str, source: str, title: str = "De Kersentuin", start: int = EVENING,
                city: str | None = None, n: int = 1) -> dict[str, Any]:
    system, account = source.split("/")
    return {"fact_id": f"{key}@{n}", "event_time": NOW, "performance_key": key, "identifiers": [],
            "source_system": system, "source_account": account, "title": title, "start": start,
            "venue": {"id": f"{system}:venue", "city": city, "postcode": None,
                      "name": "Grote Zaal" if system == "ticketmatic" else "Stadsschouwburg Leuven"}}


class Desk:
    """Identity and its match desk over plain dicts; facts are "encoded" as their fact id."""

    def __init__(self, table: dict[str, Any] | None = None, **matcher: float) -> None:
        self.facts: dict[bytes, dict[str, Any]] = {}
        self.crosswalk = Crosswalk()
        self.rerouted: list[tuple[str, str]] = []
        self.identity = Identity(self.crosswalk, {}, StreamsMetrics(CollectorRegistry()),
                                 lambda link: _avro(LINK, link), rerouter=self)
        self.table: dict[str, Any] = {} if table is None else table
        self.desk = MatchDesk(self.identity, self.table, lambda raw: ("performance", self.facts[raw]),
                              lambda cand: _avro(CANDIDATE, cand), lambda: Matcher(**matcher),  # type: ignore[arg-type]
                              now_ms=lambda: NOW)

    def record(self, event: Any, key: str, canonical: str, kind: str, raw: bytes, fact_id: str) -> str:
        self.rerouted.append((fact_id, canonical))
        return canonical

    def calendar(self, rec: dict[str, Any]) -> list[Any]:
        """identity-learn, then identity-match as Kafka would hand it on."""
        raw = rec["fact_id"].encode()
        self.facts[raw] = rec
        learned: list[Any] = []
        assert self.identity.learn("performance", rec, raw, learned) is None
        out: list[Any] = []
        for topic, day, value, kind in learned:
            if topic != MATCH:
                out.append((topic, day, value, kind))
            elif kind == KNOWN_KIND:
                assert self.desk.known("ev", day, value, out) is None
            else:
                assert self.desk.fact("ev", day, kind, rec, value, out) is None
        return out

    def decide(self, action: str, cid: str, by: str = "ann") -> list[Any]:
        out: list[Any] = []
        body = json.dumps({"action": action, "candidate": cid, "by": by}).encode()
        assert self.desk.decision("ev", "2026-12-05", body, out) is None
        return out


def links(out: list[Any]) -> dict[str, tuple[str, str, float | None, str | None]]:
    return {k: (v["performance_id"], v["reason"], v["score"], v["decided_by"])
            for t, k, v in ((o[0], o[1], _read(LINK, o[2])) for o in out if o[0] == IDENTITY)}


def candidates(out: list[Any]) -> list[dict[str, Any]]:
    return [_read(CANDIDATE, o[2]) for o in out if o[0] == REVIEW]


def facts(out: list[Any]) -> list[tuple[str, bytes]]:
    """Facts forwarded as they came (not moves: retractions and re-sends carry a fifth element)."""
    return [(o[1], o[2]) for o in out if o[0] == FACTS and len(o) == 4]


def moves(out: list[Any]) -> list[tuple[str, bytes, str]]:
    return [(o[1], o[2], o[4]) for o in out if o[0] == FACTS and len(o) == 5]


UIT, VENDOR = "uit|ev-1#0", "vendor:ticketmatic:leuven|101"


def test_a_calendar_fact_no_identifier_links_is_decided_by_its_day_and_founds_a_performance() -> None:
    w = Desk()
    learned: list[Any] = []
    rec = performance(UIT, "uitdatabank/c")
    w.identity.learn("performance", rec, b"raw", learned)
    assert learned == [(MATCH, "2026-12-05", b"raw", "performance")]  # local day of 20:15 CET
    out = w.calendar(rec)
    assert links(out) == {UIT: (UIT, "founded", None, None)}
    assert facts(out) == [(UIT, UIT.encode() + b"@1")]


def test_a_vendor_event_matched_automatically_is_linked_with_its_score_and_recorded_for_undo() -> None:
    w = Desk()
    w.calendar(performance(UIT, "uitdatabank/c"))
    out = w.calendar(performance(VENDOR, "ticketmatic/leuven"))
    assert links(out) == {VENDOR: (UIT, "match", 93.75, "matcher")}
    assert [k for k, _ in facts(out)] == [UIT]
    [cand] = candidates(out)
    assert (cand["state"], cand["decided_by"], cand["target_id"]) == ("ACCEPTED", "matcher", UIT)
    assert w.crosswalk.reason_of(VENDOR) == "match"
    again = w.calendar(performance(VENDOR, "ticketmatic/leuven", n=2))  # the vendor updates its event
    assert [k for k, _ in facts(again)] == [UIT] and candidates(again) == []


def test_a_review_holds_the_fact_and_parks_its_tickets_until_a_person_accepts() -> None:
    w = Desk()
    w.calendar(performance(UIT, "uitdatabank/c", city="Leuven"))
    out = w.calendar(performance(VENDOR, "ticketmatic/leuven", city="Heverlee"))
    [cand] = candidates(out)
    assert cand["state"] == "PENDING" and facts(out) == [] and links(out) == {}
    parked: list[Any] = []
    ticket = {"fact_id": "sale-1", "performance_key": VENDOR, "identifiers": []}
    w.identity.route("ev", VENDOR, "ticket", ticket, b"sale-1", parked)
    assert [t for t, *_ in parked] == [UNMATCHED]  # not counted anywhere yet

    out = w.decide("accept", cand["candidate_id"])
    assert links(out) == {VENDOR: (UIT, "person", cand["score"], "ann")}
    assert facts(out) == [(UIT, VENDOR.encode() + b"@1")]
    assert candidates(out)[0]["state"] == "ACCEPTED"
    assert w.identity.due_releases(now=100.0) == [VENDOR]
    released: list[Any] = []
    w.identity.release_requested("ev", VENDOR, released)
    assert facts(released) == [(UIT, b"sale-1")]
    assert w.rerouted == [("sale-1", UIT)]  # a link a person may undo: kept for the re-route
    assert w.decide("accept", cand["candidate_id"]) == []  # decided twice: already so


def test_a_rejected_candidate_founds_its_own_performance() -> None:
    w = Desk()
    w.calendar(performance(UIT, "uitdatabank/c", city="Leuven"))
    [cand] = candidates(w.calendar(performance(VENDOR, "ticketmatic/leuven", city="Heverlee")))
    out = w.decide("reject", cand["candidate_id"], by="bob")
    assert links(out) == {VENDOR: (VENDOR, "person", cand["score"], "bob")}
    assert facts(out) == [(VENDOR, VENDOR.encode() + b"@1")]
    assert candidates(out)[0]["state"] == "REJECTED"


def test_undoing_a_match_gives_the_description_its_own_performance_and_asks_for_a_reroute() -> None:
    w = Desk()
    w.calendar(performance(UIT, "uitdatabank/c"))
    [cand] = candidates(w.calendar(performance(VENDOR, "ticketmatic/leuven")))
    out = w.decide("undo", cand["candidate_id"])
    assert links(out) == {VENDOR: (VENDOR, "person", 93.75, "ann")}
    held = VENDOR.encode() + b"@1"
    undo = f"undo-{cand['candidate_id']}-{NOW}"
    assert moves(out) == [(UIT, held, f"retract/{undo}"), (VENDOR, held, undo)]  # calendar fact moved
    [(key, body)] = [(o[1], o[2]) for o in out if o[0] == RELEASE and o[3] == "reroute"]
    assert key == VENDOR and json.loads(body) == {"to": VENDOR, "keys": [VENDOR]}
    routed: list[Any] = []
    w.identity.route("ev", VENDOR, "ticket", {"fact_id": "sale-2", "performance_key": VENDOR}, b"s2", routed)
    assert facts(routed) == [(VENDOR, b"s2")]  # facts after the undo count on the restored performance


def test_a_description_linked_by_identifier_is_not_rerouted_nor_undoable() -> None:
    w = Desk()
    w.calendar(performance(UIT, "uitdatabank/c"))
    rec = {**performance(VENDOR, "ticketmatic/leuven"), "identifiers": [{"namespace": "uit", "value": "ev-1#0"}]}
    w.calendar(rec)
    w.identity.route("ev", VENDOR, "ticket", {"fact_id": "s", "performance_key": VENDOR}, b"s", [])
    assert w.crosswalk.reason_of(VENDOR) == "identifier" and w.rerouted == []


def test_a_decision_on_an_unknown_candidate_is_refused_with_what_to_do() -> None:
    w = Desk()
    body = json.dumps({"action": "accept", "candidate": "cand-x"}).encode()
    err = w.desk.decision("ev", "2026-12-05", body, [])
    assert isinstance(err, LookupError) and "cultuurbus identity candidates" in str(err)
    assert isinstance(w.desk.decision("ev", "d", b"{", []), ValueError)


def test_after_a_rebalance_the_days_descriptions_are_known_again_from_the_table() -> None:
    first = Desk()
    first.calendar(performance(UIT, "uitdatabank/c"))
    second = Desk(table=first.table)
    asyncio.run(second.desk.recovered())
    out = second.calendar(performance(VENDOR, "ticketmatic/leuven"))
    assert links(out)[VENDOR][:2] == (UIT, "match")


def test_one_postcode_with_the_city_in_two_languages_is_one_place() -> None:
    brussels = Matcher()
    brussels.add(uit(venue_city="Brussel", venue_postcode="1000", venue_name="KVS"), "uit|ev-1#0")
    decision = brussels.decide(tm(venue_city="Bruxelles", venue_postcode="1000"))
    assert decision.outcome == "link" and "venue 95" in decision.reason


def test_a_touring_production_at_the_same_hour_in_another_town_is_another_performance() -> None:
    haarlem = Description(("dip|NL-26-7405-8|00001",), "dip/dip", "Zoutwater", EVENING, "De Harmonie",
                          "Haarlem", "2011 HH", "dip:theater:1812")
    genk = Description(("uit|ev-9#1",), "uitdatabank/c", "Zoutwater", EVENING, "Stadsschouwburg Genk", "Genk",
                       "3600", "uit:place:9")
    decision = known(haarlem).decide(genk)
    assert decision.outcome == "new" and "another postcode" in decision.reason


ADOPTED = "vendor:eventbrite:acme|555"  # a source key no description names (an account-scoped event key)


def test_a_performance_a_vendor_founded_is_renamed_to_the_sector_id_with_every_key_it_routed() -> None:
    w = Desk()
    founded = w.calendar(performance(VENDOR, "ticketmatic/leuven"))  # the vendor's own event comes first
    assert links(founded) == {VENDOR: (VENDOR, "founded", None, None)}
    routed: list[Any] = []
    sale = {"fact_id": "sale-1", "performance_key": ADOPTED, "event_time": NOW,
            "identifiers": [{"namespace": "vendor:ticketmatic:leuven", "value": "101"}]}
    w.identity.route("ev", ADOPTED, "ticket", sale, b"sale-1", routed)
    assert links(routed) == {ADOPTED: (VENDOR, "founded", None, None)} and facts(routed) == [(VENDOR, b"sale-1")]

    out = w.calendar(performance(UIT, "uitdatabank/c"))  # then UiTdatabank describes the same show
    assert links(out)[UIT] == (UIT, "founded", None, None)
    assert links(out)[VENDOR][:2] == (UIT, "match")
    assert links(out)[ADOPTED][:2] == (UIT, "match"), "a key only routing knew is linked on the topic too"
    held = VENDOR.encode() + b"@1"
    [(_, _, retract), (_, _, move)] = moves(out)
    assert moves(out) == [(VENDOR, held, retract), (UIT, held, move)] and retract == f"retract/{move}"
    reroutes = {o[1]: json.loads(o[2]) for o in out if o[0] == RELEASE and o[3] == "reroute"}
    assert reroutes == {VENDOR: {"to": UIT, "keys": [VENDOR]}, ADOPTED: {"to": UIT, "keys": [ADOPTED]}}

    restarted = Crosswalk()  # a worker started later knows only what the identity topic says
    for o in founded + routed + out:
        if o[0] == IDENTITY:
            link = _read(LINK, o[2])
            restarted.put(o[1], link["performance_id"], link["reason"])
    assert {k: restarted.get(k) for k in (VENDOR, ADOPTED, UIT)} == {VENDOR: UIT, ADOPTED: UIT, UIT: UIT}


def test_a_key_another_worker_adopted_follows_the_rename_its_match_desk_did_not_know_of() -> None:
    """Two workers: A's match desk renames the performance; B routes ADOPTED and adopted it
    just before, and A's identity reader had not brought that link yet."""
    a = Desk()
    b_crosswalk = Crosswalk()
    b_rerouter = Rerouter(b_crosswalk, {})
    b = Identity(b_crosswalk, {}, StreamsMetrics(CollectorRegistry()), lambda link: _avro(LINK, link),
                 rerouter=b_rerouter)

    def b_reads(out: list[Any]) -> None:  # B's identity reader brings A's links
        for o in out:
            if o[0] == IDENTITY:
                link = _read(LINK, o[2])
                b_crosswalk.follow(o[1], link["performance_id"], link["reason"])

    def sale(n: int) -> dict[str, Any]:
        return {"fact_id": f"sale-{n}", "performance_key": ADOPTED, "event_time": NOW,
                "identifiers": [{"namespace": "vendor:ticketmatic:leuven", "value": "101"}]}

    b_reads(a.calendar(performance(VENDOR, "ticketmatic/leuven")))  # the vendor's own event founds it
    routed: list[Any] = []
    assert b.route("ev", ADOPTED, "ticket", sale(1), b"sale-1", routed) is None
    assert links(routed) == {ADOPTED: (VENDOR, "founded", None, None)} and facts(routed) == [(VENDOR, b"sale-1")]

    renamed = a.calendar(performance(UIT, "uitdatabank/c"))
    reroutes = {o[1] for o in renamed if o[0] == RELEASE and o[3] == "reroute"}
    assert reroutes == {VENDOR}, "A's desk does not know the key B adopted"
    assert b.due_follows(now=100.0) == []  # B has not read the rename yet
    b_reads(renamed)

    [(key, request)] = b.due_follows(now=100.0)  # B's timer: no fact of the key came since
    assert key == ADOPTED and b.due_follows(now=101.0) == []
    followed: list[Any] = []
    assert b.release_requested("release-ev", key, followed, request) is None
    assert links(followed) == {ADOPTED: (UIT, "match", None, "matcher")}
    [rec] = [o for o in followed if o[0] == RELEASE]
    assert (rec[1], json.loads(rec[2]), rec[3]) == (ADOPTED, {"to": UIT, "keys": [ADOPTED]}, "reroute")

    moved: list[Any] = []  # B's identity-route applies the re-route: what it counted under VENDOR moves
    b_rerouter.reroute(SimpleNamespace(message=SimpleNamespace(offset=7)), ADOPTED, UIT, [ADOPTED], moved)
    assert [(o[1], o[2]) for o in moved] == [(VENDOR, b"sale-1"), (UIT, b"sale-1")]

    later: list[Any] = []
    assert b.route("ev", ADOPTED, "ticket", sale(2), b"sale-2", later) is None
    assert facts(later) == [(UIT, b"sale-2")] and not [o for o in later if o[0] in (RELEASE, IDENTITY)]
    assert b.due_follows(now=200.0) == []


def test_a_key_another_worker_adopted_follows_the_rename_with_its_next_fact() -> None:
    a = Desk()
    b_crosswalk = Crosswalk()
    b = Identity(b_crosswalk, {}, StreamsMetrics(CollectorRegistry()), lambda link: _avro(LINK, link),
                 rerouter=Rerouter(b_crosswalk, {}))
    founded = a.calendar(performance(VENDOR, "ticketmatic/leuven"))
    renamed = a.calendar(performance(UIT, "uitdatabank/c"))  # before B adopted the key: B reads it late
    for o in founded + renamed:
        if o[0] == IDENTITY and o[1] == VENDOR and _read(LINK, o[2])["reason"] == "founded":
            b_crosswalk.follow(VENDOR, VENDOR, "founded")
    sale = {"fact_id": "sale-1", "performance_key": ADOPTED, "event_time": NOW,
            "identifiers": [{"namespace": "vendor:ticketmatic:leuven", "value": "101"}]}
    first: list[Any] = []
    b.route("ev", ADOPTED, "ticket", sale, b"sale-1", first)
    assert facts(first) == [(VENDOR, b"sale-1")]  # B's crosswalk still says the founded performance
    for o in renamed:
        if o[0] == IDENTITY:
            link = _read(LINK, o[2])
            b_crosswalk.follow(o[1], link["performance_id"], link["reason"])
    second: list[Any] = []
    b.route("ev", ADOPTED, "ticket", {**sale, "fact_id": "sale-2"}, b"sale-2", second)
    assert facts(second) == [(UIT, b"sale-2")]
    assert links(second)[ADOPTED][:2] == (UIT, "match")
    assert [json.loads(o[2]) for o in second if o[0] == RELEASE] == [{"to": UIT, "keys": [ADOPTED]}]


def test_a_release_request_that_is_neither_empty_nor_a_follow_is_refused_with_what_it_should_be() -> None:
    b = Identity(Crosswalk(), {}, StreamsMetrics(CollectorRegistry()), lambda link: _avro(LINK, link))
    refused = b.release_requested("ev", ADOPTED, [], b'{"keys": []}')
    assert isinstance(refused, Exception) and '"follow": [keys]' in str(refused)


def test_a_day_s_matcher_holds_a_performance_decoded_from_its_own_record_in_under_410_bytes() -> None:
    # what a worker keeps per performance it indexes (100,000 in bench.worker_memory): each
    # record decodes into new strings, but titles, venues, places and sources repeat across
    # performances and are kept once, and a performance of one description is held as it;
    # 1,389 bytes a performance with a new copy of each text and a group of a dict of keys
    # by namespace, 639 with shared texts and a group of tuples, 430 with a description as
    # its own group, 374 with the known descriptions and their ids in two lists (no tuple)
    records = [json.dumps({
        "performance_key": f"vendor:eventix:acc|ev-{i}", "source_system": "eventix", "source_account": "acc",
        "identifiers": [{"namespace": "dip", "value": f"NL-25-{i:05d}-1|{i % 7}"}],
        "start": EVENING + (i % 50) * MIN, "title": f"Voorstelling {i % 40}",
        "venue": {"name": f"Zaal {i % 30}", "city": f"Stad {i % 30}", "postcode": f"{1000 + i % 30} AB",
                  "id": f"eventix:acc:venue:{i % 30}"}}) for i in range(2000)]
    gc.collect()
    tracemalloc.start()
    try:
        m = Matcher()
        for raw in records:
            d = description_of(json.loads(raw))
            m.add(d, d.keys[1])
        gc.collect()
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(m) == 2000
    assert held / 2000 < 410, f"{held / 2000:.0f} bytes a performance"

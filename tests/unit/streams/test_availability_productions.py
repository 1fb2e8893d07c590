"""Availability state: the productions a performance's descriptions name (#13 item 1)."""

from __future__ import annotations

from typing import Any

from streams.availability import state as av
from streams.availability.productions import MAX_KEYS, description_keys

UIT_PROD = "10ce7cb1-7bc9-4ce4-a256-460f56c49965"
EVENT = "b815e4e6-d79f-40f2-b329-50e566e23367"
OTHER = "eb155497-46b9-4fb2-9457-d073fe02322e"


def perf(system: str, t: int, *, production: str | None = None, ids: tuple[tuple[str, str], ...] = (),
         others: tuple[str, ...] = (), fid: str | None = None) -> dict[str, Any]:
    return {"fact_id": fid or f"{system}{t}", "event_time": t, "capacity": 100, "status": "SCHEDULED",
            "title": "Hamlet", "venue": {"name": "Schouwburg"}, "start": 0, "source_system": system,
            "source_account": "a", "production_id": production, "production_other_events": list(others),
            "identifiers": [{"namespace": ns, "value": v} for ns, v in ids]}


def record(st: dict[str, Any]) -> dict[str, Any]:
    return av.availability_record("p", st, limited_threshold=10, now_ms=0)


def test_production_ids_are_namespaced_so_dip_and_uit_ids_never_collide() -> None:
    assert description_keys(perf("uitdatabank", 1, production=UIT_PROD.upper(),
                                 ids=(("uit", f"{EVENT}#0"), ("uit", f"{EVENT}@2026-12-04T19:30Z")),
                                 others=(OTHER,))) == [
        f"uit-event|{EVENT}", f"uit-event|{OTHER}", f"uit-production|{UIT_PROD}"]
    assert description_keys(perf("dip", 1, production="nl-23-1234-5",
                                 ids=(("dip", "NL-23-1234-5|00003"),))) == ["dip-production|NL-23-1234-5"]
    assert description_keys(perf("ticketmatic", 1, ids=(("vendor:ticketmatic:acme", "101"),))) == []


def test_the_record_carries_the_union_of_every_sources_productions_not_just_the_newest() -> None:
    st = av.new_state()
    av.apply_calendar(st, perf("uitdatabank", 1, production=UIT_PROD, ids=(("uit", f"{EVENT}#0"),)))
    av.apply_calendar(st, perf("dip", 2, production="NL-23-1234-5", ids=(("dip", "NL-23-1234-5|00001"),)))
    av.apply_calendar(st, perf("ticketmatic", 3, ids=(("vendor:ticketmatic:acme", "101"),)))

    assert record(st)["production_keys"] == [
        "dip-production|NL-23-1234-5", f"uit-event|{EVENT}", f"uit-production|{UIT_PROD}"]


def test_a_source_that_drops_its_production_link_loses_it_and_an_older_fact_changes_nothing() -> None:
    st = av.new_state()
    av.apply_calendar(st, perf("dip", 5, production="NL-23-1234-5"))
    av.apply_calendar(st, perf("dip", 3, production="NL-99-0000-1"))  # older: ignored
    assert record(st)["production_keys"] == ["dip-production|NL-23-1234-5"]
    av.apply_calendar(st, perf("dip", 9))
    assert record(st)["production_keys"] == []


def test_a_retracted_description_takes_its_productions_with_it() -> None:
    st = av.new_state()
    av.apply_calendar(st, perf("dip", 1, production="NL-23-1234-5"))
    wrong = perf("uitdatabank", 2, production=UIT_PROD)
    av.apply_calendar(st, wrong)
    assert av.retract_calendar(st, wrong)
    assert record(st)["production_keys"] == ["dip-production|NL-23-1234-5"]


def test_ticket_facts_leave_the_productions_alone() -> None:
    st = av.new_state()
    av.apply_calendar(st, perf("dip", 1, production="NL-23-1234-5"))
    before = dict(st)
    av.apply_ticket(st, {"fact_id": "t1", "event_type": "SOLD", "quantity": 2, "event_time": 5,
                         "source_system": "eventix", "source_account": "a"})
    assert st["productions"] is before["productions"]
    assert record(st)["production_keys"] == ["dip-production|NL-23-1234-5"]


def test_a_large_production_keeps_its_production_ids_and_a_bounded_list() -> None:
    others = tuple(f"{n:08x}-0000-4000-8000-000000000000" for n in range(100))
    st = av.new_state()
    av.apply_calendar(st, perf("uitdatabank", 1, production=UIT_PROD, others=others))
    av.apply_calendar(st, perf("dip", 1, production="NL-23-1234-5"))
    keys = record(st)["production_keys"]
    assert len(keys) == MAX_KEYS
    assert {f"uit-production|{UIT_PROD}", "dip-production|NL-23-1234-5"} <= set(keys)
    assert keys == sorted(keys)


def test_a_state_stored_before_productions_existed_still_gives_a_record() -> None:
    st = av.new_state()
    del st["cal_sources"]
    assert record(st)["production_keys"] == []

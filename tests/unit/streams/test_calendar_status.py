"""The status of a performance that several calendars describe: a withdrawal (cancelled,
postponed) by one calendar is not undone by another calendar's stale SCHEDULED."""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

from streams.availability import state as av
from streams.lastminute.logic import offer_for

HOUR = 3600 * 1000
NOW = 1_000 * HOUR
UIT = ("uitdatabank", "cultuurnet")
VENDOR = ("ticketmatic", "deschouwburg")
ICAL = ("ical", "deschouwburg")
DIP = ("dip", "deschouwburg")


def cal(source: tuple[str, str], t: int, status: str = "SCHEDULED", capacity: int | None = 100,
        title: str = "Hamlet") -> dict[str, Any]:
    """A calendar fact as the facts agent hands it over (times in epoch ms)."""
    system, account = source
    return {"fact_id": f"{system}|{t}|{status}", "event_time": t, "source_system": system,
            "source_account": account, "capacity": capacity, "status": status, "title": title,
            "venue": {"name": "Schouwburg", "city": "Gent", "region": "Oost-Vlaanderen"},
            "genre": "toneel", "start": NOW + 24 * HOUR, "url": None}


def sold(t: int, q: int) -> dict[str, Any]:
    return {"fact_id": f"t{t}", "event_type": "SOLD", "quantity": q, "event_time": t,
            "source_system": VENDOR[0], "source_account": VENDOR[1]}


def apply_all(facts: list[dict[str, Any]], state: dict[str, Any] | None = None) -> dict[str, Any]:
    st = av.new_state() if state is None else state
    for f in facts:
        (av.apply_ticket if "event_type" in f else av.apply_calendar)(st, f)
    return st


def record(st: dict[str, Any]) -> dict[str, Any]:
    return av.availability_record("uit|e#0", st, limited_threshold=10, now_ms=NOW)


def status(facts: list[dict[str, Any]]) -> str:
    return str(record(apply_all(facts))["status"])


def without_version(st: dict[str, Any]) -> dict[str, Any]:
    """The state as stored (JSON) minus ``version``, which counts the facts taken."""
    out = json.loads(json.dumps(st))
    out.pop("version")
    return out


def test_a_cancellation_in_uitdatabank_is_not_undone_by_a_newer_scheduled_vendor_event() -> None:
    st = apply_all([cal(UIT, 1 * HOUR), cal(VENDOR, 2 * HOUR), cal(UIT, 3 * HOUR, "CANCELLED"),
                    cal(VENDOR, 5 * HOUR, "SCHEDULED", title="Hamlet (nieuwe zaalindeling)")])
    r = record(st)
    assert r["status"] == "CANCELLED"
    assert r["uit_booking_availability_type"] == "Unavailable"
    assert r["schema_org_availability"] == "https://schema.org/Discontinued"
    assert offer_for(r, now_ms=NOW, window_ms=48 * HOUR) is None, "no last-minute offer for a cancelled show"
    assert r["title"] == "Hamlet (nieuwe zaalindeling)", "descriptive fields still follow the newest calendar"


def test_the_same_calendar_facts_in_every_order_give_the_same_state() -> None:
    facts = [cal(UIT, 1 * HOUR), cal(VENDOR, 2 * HOUR, capacity=120), cal(UIT, 3 * HOUR, "CANCELLED"),
             cal(ICAL, 4 * HOUR, capacity=None, title="Hamlet (iCal)"),
             cal(VENDOR, 5 * HOUR, capacity=None, title="Hamlet (vendor)"),
             sold(6 * HOUR, 3)]
    states, records = set(), set()
    for order in itertools.permutations(facts):
        st = apply_all(list(order))
        states.add(json.dumps(without_version(st), sort_keys=True))
        r = record(st)
        records.add((r["status"], r["capacity"], r["sold"], r["remaining"], r["title"], r["last_fact_time"]))
    assert len(states) == 1
    assert records == {("CANCELLED", 100, 3, 97, "Hamlet (vendor)", 6 * HOUR)}


def test_replaying_every_calendar_fact_changes_nothing() -> None:
    facts = [cal(UIT, 1 * HOUR), cal(UIT, 3 * HOUR, "CANCELLED"), cal(VENDOR, 5 * HOUR),
             cal(UIT, 2 * HOUR, "POSTPONED")]
    st = apply_all(facts)
    before = copy.deepcopy(st)
    assert [av.apply_calendar(st, f) for f in facts] == [False] * len(facts)
    assert st == before


def test_the_cancelling_calendar_can_un_cancel_with_a_newer_fact() -> None:
    facts = [cal(UIT, 1 * HOUR), cal(UIT, 3 * HOUR, "CANCELLED"), cal(VENDOR, 5 * HOUR),
             cal(UIT, 6 * HOUR, "SCHEDULED")]
    assert status(facts) == "AVAILABLE"
    assert status(facts[:3]) == "CANCELLED"
    assert status([*facts[:3], cal(UIT, 2 * HOUR, "SCHEDULED")]) == "CANCELLED", \
        "an older SCHEDULED of the cancelling calendar is not an un-cancel"
    assert status(list(reversed(facts))) == "AVAILABLE"


def test_a_postponement_holds_against_other_calendars_until_its_own_calendar_lifts_it() -> None:
    postponed = [cal(UIT, 1 * HOUR), cal(UIT, 3 * HOUR, "POSTPONED"), cal(VENDOR, 5 * HOUR),
                 cal(ICAL, 6 * HOUR, capacity=None)]
    assert status(postponed) == "POSTPONED"
    assert status(list(reversed(postponed))) == "POSTPONED"
    r = record(apply_all(postponed))
    assert offer_for(r, now_ms=NOW, window_ms=48 * HOUR) is None
    assert status([*postponed, cal(UIT, 7 * HOUR, "SCHEDULED")]) == "AVAILABLE"


def test_a_cancellation_wins_over_a_postponement_from_another_calendar() -> None:
    facts = [cal(UIT, 5 * HOUR, "POSTPONED"), cal(DIP, 3 * HOUR, "CANCELLED"), cal(VENDOR, 6 * HOUR)]
    assert status(facts) == "CANCELLED"
    assert status([*facts, cal(DIP, 7 * HOUR, "SCHEDULED")]) == "POSTPONED"


def test_moved_online_and_scheduled_follow_the_newest_calendar_and_keep_selling() -> None:
    online = [cal(UIT, 1 * HOUR), cal(UIT, 3 * HOUR, "MOVED_ONLINE"), sold(4 * HOUR, 5)]
    st = apply_all(online)
    assert (st["status"], record(st)["status"], record(st)["remaining"]) == ("MOVED_ONLINE", "AVAILABLE", 95)
    assert apply_all([*online, cal(VENDOR, 5 * HOUR)])["status"] == "SCHEDULED"


def test_two_statuses_of_one_calendar_at_the_same_time_resolve_to_the_graver_whatever_the_order() -> None:
    a, b = cal(UIT, 3 * HOUR, "SCHEDULED"), cal(UIT, 3 * HOUR, "CANCELLED")
    assert status([a, b]) == status([b, a]) == "CANCELLED"


def test_a_calendar_without_capacity_keeps_the_known_capacity_whichever_arrives_first() -> None:
    facts = [cal(UIT, 1 * HOUR, capacity=300), cal(ICAL, 5 * HOUR, capacity=None)]
    for order in (facts, list(reversed(facts))):
        assert record(apply_all(order))["capacity"] == 300


def test_a_state_stored_before_per_source_status_loads_and_keeps_its_cancellation() -> None:
    old = apply_all([cal(UIT, 3 * HOUR, "CANCELLED"), sold(4 * HOUR, 2)])
    for key in ("cal_sources", "cal_key", "cap_key"):
        del old[key]
    stored = json.loads(json.dumps(old))
    assert record(stored)["status"] == "CANCELLED"
    st = apply_all([cal(VENDOR, 5 * HOUR)], stored)
    r = record(st)
    assert (r["status"], r["capacity"], r["sold"]) == ("CANCELLED", 100, 2)


def test_a_state_stored_before_per_source_status_without_a_calendar_takes_the_first_one() -> None:
    old = apply_all([sold(4 * HOUR, 2)])
    for key in ("cal_sources", "cal_key", "cap_key"):
        del old[key]
    st = apply_all([cal(VENDOR, 1 * HOUR, capacity=50)], json.loads(json.dumps(old)))
    r = record(st)
    assert (r["status"], r["capacity"], r["remaining"]) == ("AVAILABLE", 50, 48)

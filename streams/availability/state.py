"""Live availability of one performance, as pure functions on a plain dict.

The state is what the availability table stores (JSON). Every update is commutative
or guarded by event time, so the order facts arrive in does not change the result:

- ticket facts add to per-source counters (a cancellation before its sale still nets
  to zero once both are in);
- a cumulative snapshot replaces its source's numbers only when it is newer (event
  time) than the one held; a source that sends snapshots is counted by its latest
  snapshot, never also by events;
- calendar facts: see below.

Calendar facts. A performance is described by several calendars (DIP, UiTdatabank, the
vendor's own event in Ticketmatic/Eventbrite, iCal, schema.org); a source is
``source_system/source_account``. Facts are ordered by event time, ties broken by
source and fact id, so every fact has one place in a total order.

- Status: the state keeps each source's latest status (``cal_sources``; at equal event
  time within one source the graver status wins: CANCELLED > POSTPONED > MOVED_ONLINE >
  SCHEDULED). The effective status is CANCELLED when any source's latest says
  CANCELLED, else POSTPONED when any says POSTPONED, else the newest status over all
  sources (SCHEDULED or MOVED_ONLINE; both mean the show takes place and seats sell, so
  where it takes place is description, newest wins). A cancellation therefore holds
  until the source that said it publishes a newer status that is not CANCELLED (a real
  un-cancel); a newer SCHEDULED from another calendar (a vendor feed with no
  "cancelled" state, or one nobody updated) does not undo it. Postponed likewise.
- Capacity: from the newest calendar fact that has one (a calendar without capacity,
  like iCal, keeps the one another source gave).
- Title, venue, city, region, genre, start, url: from the newest calendar fact.
- Productions (``productions``): the keys each source's latest fact names
  (``streams.availability.productions``), kept in its ``cal_sources`` entry; the state
  holds their sorted union. Only calendar facts change it.

A state stored before ``cal_sources`` existed loads as if its status had come from one
anonymous source at its ``cal_time`` (so a cancellation it holds stays; replaying the
calendar into a fresh state rebuilds the per-source view).

Deduplication by fact id happens in the agent (a separate table), so a redelivered
fact never reaches these functions twice; applying one twice changes nothing anyway.

Retractions (``retract``): a fact counted on the wrong performance (a link a person
undid, ``streams.identity.reroute``) is taken back: a ticket fact's counters are
negated, a snapshot's source figures go when it is the one held, a calendar fact's
source status goes when this fact set it.
"""

from __future__ import annotations

from typing import Any

from streams.availability.productions import description_keys, union

__all__ = ["STATUSES", "apply_calendar", "apply_snapshot", "apply_ticket", "availability_record",
           "calendar_status", "new_state", "retract", "retract_calendar", "retract_snapshot",
           "retract_ticket", "status_of", "totals"]

State = dict[str, Any]

_EFFECT = {  # event type -> (counter, sign)
    "SOLD": ("sold", 1),
    "CANCELLED": ("sold", -1),
    "REFUNDED": ("sold", -1),
    "RESERVED": ("reserved", 1),
    "RESERVATION_RELEASED": ("reserved", -1),
    "BLOCKED": ("blocked", 1),
    "UNBLOCKED": ("blocked", -1),
}

SCHEMA_ORG = "https://schema.org/"


def new_state() -> State:
    return {"cal_time": None, "capacity": None, "status": "SCHEDULED", "title": None,
            "venue_name": None, "city": None, "region": None, "genre": None, "start": None,
            "url": None, "events": {}, "snapshots": {}, "version": 0, "last_fact_time": None,
            "snap_capacity": None, "snap_capacity_time": None,
            "cal_sources": {}, "cal_key": None, "cap_key": None}


def _source(fact: dict[str, Any]) -> str:
    return f"{fact['source_system']}/{fact['source_account']}"


def _ms(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return int(value.timestamp() * 1000)


def _touch(state: State, fact: dict[str, Any]) -> None:
    state["version"] += 1
    t = _ms(fact["event_time"])
    if state["last_fact_time"] is None or (t is not None and t > state["last_fact_time"]):
        state["last_fact_time"] = t


def _count(state: State, fact: dict[str, Any], direction: int) -> bool:
    """Add a ticket fact to its source's counters (``direction`` -1 takes it back out)."""
    effect = _EFFECT.get(str(fact["event_type"]))
    if effect is None:  # SCANNED: attendance, not availability
        return False
    counter, sign = effect
    counts = state["events"].setdefault(_source(fact), {"sold": 0, "reserved": 0, "blocked": 0,
                                                        "refunded": 0})
    quantity = direction * int(fact["quantity"])
    counts[counter] += sign * quantity
    if sign < 0 and counter == "sold":
        counts["refunded"] += quantity
    return True


def apply_ticket(state: State, fact: dict[str, Any]) -> bool:
    """Count one ticket fact; returns whether availability changed."""
    if not _count(state, fact, 1):
        return False
    _touch(state, fact)
    return True


def retract_ticket(state: State, fact: dict[str, Any]) -> bool:
    """Take back a ticket fact counted before (it belongs to another performance: see
    ``streams.identity.reroute``); returns whether availability changed."""
    if not _count(state, fact, -1):
        return False
    state["version"] += 1
    return True


def retract_snapshot(state: State, snap: dict[str, Any]) -> bool:
    """Take back a snapshot: its source's figures go when it is the snapshot held (an
    older one of the same source was superseded already and changes nothing)."""
    t = _ms(snap["event_time"])
    src = _source(snap)
    held = state["snapshots"].get(src)
    if held is None or held["time"] != t:
        return False
    del state["snapshots"][src]
    if state["snap_capacity_time"] == t and snap.get("capacity") is not None \
            and state["snap_capacity"] == int(snap["capacity"]):
        state["snap_capacity"] = state["snap_capacity_time"] = None
    state["version"] += 1
    return True


def retract_calendar(state: State, perf: dict[str, Any]) -> bool:
    """Take back a calendar fact: its source's status entry goes when this fact set it,
    and the status is decided again over the other sources. Capacity and descriptive
    fields stay (newest-wins keeps no history to fall back on)."""
    _upgrade(state)
    src = _source(perf)
    held = state["cal_sources"].get(src)
    if held is None or held["fact"] != str(perf.get("fact_id") or ""):
        return False
    del state["cal_sources"][src]
    state["status"] = calendar_status(state["cal_sources"])
    _productions(state, str(perf.get("fact_id") or ""))
    state["version"] += 1
    return True


def moved_away(state: State) -> bool:
    """Every fact that described or counted this performance was taken back and moved to
    another one (a match undone, or a performance renamed to its sector id): no calendar
    source, no snapshot and nothing counted is left, so the performance is withdrawn
    rather than shown with all its seats free. A later fact brings it back."""
    return bool(state.get("moved")) and not state["cal_sources"] and not state["snapshots"] \
        and not any(totals(state).values())


def retract(state: State, kind: str, fact: dict[str, Any]) -> bool:
    """Take back a fact of any kind counted before; returns whether availability changed
    (and, when it did, marks the state as one facts were moved out of: ``moved_away``)."""
    if kind == "ticket":
        changed = retract_ticket(state, fact)
    elif kind == "snapshot":
        changed = retract_snapshot(state, fact)
    else:
        changed = retract_calendar(state, fact)
    if changed:
        state["moved"] = True
    return changed


def apply_snapshot(state: State, snap: dict[str, Any]) -> bool:
    """Take a cumulative snapshot if it is newer than the one held for its source."""
    t = _ms(snap["event_time"])
    src = _source(snap)
    held = state["snapshots"].get(src)
    if held is not None and held["time"] >= t:  # type: ignore[operator]
        return False
    sold = sum(int(line["tickets"]) for line in snap.get("lines", []))
    refunded = held["refunded"] if held else 0
    if held and sold < held["sold"]:
        refunded += held["sold"] - sold  # a snapshot that goes backwards is a refund
    state["snapshots"][src] = {"time": t, "sold": sold, "reserved": int(snap.get("reservations", 0)),
                               "blocked": int(snap.get("blocked_seats", 0)), "refunded": refunded}
    if snap.get("capacity") is not None and (state["snap_capacity_time"] is None
                                             or t > state["snap_capacity_time"]):
        state["snap_capacity"] = int(snap["capacity"])
        state["snap_capacity_time"] = t
    _touch(state, snap)
    return True


# Gravity of a calendar status: which one wins at equal event time (withdrawals first).
_GRAVITY = {"SCHEDULED": 0, "MOVED_ONLINE": 1, "POSTPONED": 2, "CANCELLED": 3}
_WITHDRAWN = ("CANCELLED", "POSTPONED")  # any source saying so holds, in this order
_LEGACY = "(stored before per-source status)"  # never a real "system/account"


def _upgrade(state: State) -> None:
    """Give a state stored before per-source calendar status its new keys."""
    if "cal_sources" in state:
        return
    held = state.get("cal_time")
    state["cal_sources"] = {} if held is None else {
        _LEGACY: {"time": held, "status": state["status"], "fact": ""}}
    state["cal_key"] = None if held is None else [held, "", ""]
    state["cap_key"] = None if held is None or state["capacity"] is None else [held, "", ""]


def calendar_status(sources: dict[str, dict[str, Any]]) -> str:
    """The effective status over every source's latest (see the module docstring)."""
    latest = {entry["status"] for entry in sources.values()}
    for withdrawn in _WITHDRAWN:
        if withdrawn in latest:
            return withdrawn
    if not sources:
        return "SCHEDULED"
    _, newest = max(sources.items(), key=lambda kv: (kv[1]["time"], _GRAVITY.get(kv[1]["status"], 0),
                                                      kv[0]))
    return str(newest["status"])


def _productions(state: State, fact: str) -> None:
    """The union of the production keys the sources' latest facts name (``fact``: the
    calendar fact that changed them, for the log)."""
    keys = union([e["prod"] for e in state["cal_sources"].values() if e.get("prod")], fact)
    if keys or state.get("productions"):
        state["productions"] = keys


def apply_calendar(state: State, perf: dict[str, Any]) -> bool:
    """Take a calendar fact: its source's status, and capacity and descriptive fields if
    it is the newest; returns whether the state changed."""
    _upgrade(state)
    t = _ms(perf["event_time"])
    t = -1 if t is None else t
    src = _source(perf)
    fact = str(perf.get("fact_id") or "")
    status = str(perf.get("status") or "SCHEDULED")
    changed = False

    held = state["cal_sources"].get(src)
    if held is None or (t, _GRAVITY.get(status, 0), fact) > (
            held["time"], _GRAVITY.get(held["status"], 0), held["fact"]):
        entry: dict[str, Any] = {"time": t, "status": status, "fact": fact}
        prod = description_keys(perf)
        if prod:
            entry["prod"] = prod
        state["cal_sources"][src] = entry
        state["status"] = calendar_status(state["cal_sources"])
        _productions(state, fact)
        changed = True

    key = [t, src, fact]
    if state["cal_key"] is None or key > state["cal_key"]:
        venue = perf.get("venue") or {}
        state.update(cal_key=key, cal_time=t, title=perf.get("title"), venue_name=venue.get("name"),
                     city=venue.get("city"), region=venue.get("region"), genre=perf.get("genre"),
                     start=_ms(perf.get("start")), url=perf.get("url"))
        changed = True
    # A calendar that knows no capacity (iCal) does not erase the one another source gave.
    if perf.get("capacity") is not None and (state["cap_key"] is None or key > state["cap_key"]):
        state.update(capacity=int(perf["capacity"]), cap_key=key)
        changed = True

    if changed:
        _touch(state, perf)
    return changed


def totals(state: State) -> dict[str, int]:
    """Sold, reserved, blocked and refunded over every source."""
    out = {"sold": 0, "reserved": 0, "blocked": 0, "refunded": 0}
    snapshot_sources = set(state["snapshots"])
    for src, counts in state["events"].items():
        if src in snapshot_sources:
            continue
        for k in out:
            out[k] += counts[k]
    for snap in state["snapshots"].values():
        for k in out:
            out[k] += snap[k]
    return out


def capacity_of(state: State) -> int | None:
    return state["capacity"] if state["capacity"] is not None else state["snap_capacity"]


STATUSES = ("AVAILABLE", "LIMITED", "SOLD_OUT", "CANCELLED", "POSTPONED", "UNKNOWN")


def status_of(state: State, remaining: int | None, limited_threshold: int) -> str:
    if state["status"] == "CANCELLED":
        return "CANCELLED"
    if state["status"] == "POSTPONED":
        return "POSTPONED"
    if remaining is None:
        return "UNKNOWN"
    if remaining <= 0:
        return "SOLD_OUT"
    if remaining <= limited_threshold:
        return "LIMITED"
    return "AVAILABLE"


_SCHEMA_ORG_OF = {"AVAILABLE": "InStock", "UNKNOWN": "InStock", "LIMITED": "LimitedAvailability",
                  "SOLD_OUT": "SoldOut", "CANCELLED": "Discontinued", "POSTPONED": "OutOfStock"}


def availability_record(performance_id: str, state: State, *, limited_threshold: int,
                        now_ms: int) -> dict[str, Any]:
    """The Availability record (as fastavro writes it) for the current state."""
    t = totals(state)
    capacity = capacity_of(state)
    remaining = None if capacity is None else max(capacity - t["sold"] - t["reserved"] - t["blocked"], 0)
    status = status_of(state, remaining, limited_threshold)
    return {
        "performance_id": performance_id, "capacity": capacity, "sold": t["sold"],
        "reserved": t["reserved"], "blocked": t["blocked"], "refunded": t["refunded"],
        "remaining": remaining, "status": status,
        "uit_booking_availability_type": "Available" if status in ("AVAILABLE", "LIMITED", "UNKNOWN")
        else "Unavailable",
        "schema_org_availability": SCHEMA_ORG + _SCHEMA_ORG_OF[status],
        "title": state["title"], "venue_name": state["venue_name"], "city": state["city"],
        "region": state["region"], "genre": state["genre"], "start": state["start"],
        "last_fact_time": state["last_fact_time"], "updated_at": now_ms, "version": state["version"],
        "production_keys": state.get("productions") or [],
    }

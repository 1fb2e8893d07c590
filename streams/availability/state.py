"""Live availability of one performance, as pure functions on a plain dict.

The state is what the availability table stores (JSON). Every update is commutative
or guarded by event time, so the order facts arrive in does not change the result:

- ticket facts add to per-source counters (a cancellation before its sale still nets
  to zero once both are in);
- a cumulative snapshot replaces its source's numbers only when it is newer (event
  time) than the one held; a source that sends snapshots is counted by its latest
  snapshot, never also by events;
- calendar facts replace capacity, status and descriptive fields only when newer.

Deduplication by fact id happens in the agent (a separate table), so a redelivered
fact never reaches these functions twice.
"""

from __future__ import annotations

from typing import Any

__all__ = ["STATUSES", "apply_calendar", "apply_snapshot", "apply_ticket", "availability_record",
           "new_state", "status_of", "totals"]

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
            "snap_capacity": None, "snap_capacity_time": None}


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


def apply_ticket(state: State, fact: dict[str, Any]) -> bool:
    """Count one ticket fact; returns whether availability changed."""
    effect = _EFFECT.get(str(fact["event_type"]))
    if effect is None:  # SCANNED: attendance, not availability
        return False
    counter, sign = effect
    counts = state["events"].setdefault(_source(fact), {"sold": 0, "reserved": 0, "blocked": 0,
                                                        "refunded": 0})
    counts[counter] += sign * int(fact["quantity"])
    if sign < 0 and counter == "sold":
        counts["refunded"] += int(fact["quantity"])
    _touch(state, fact)
    return True


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


def apply_calendar(state: State, perf: dict[str, Any]) -> bool:
    """Take capacity, status and descriptive fields if this calendar fact is newer."""
    t = _ms(perf["event_time"])
    if state["cal_time"] is not None and t is not None and t <= state["cal_time"]:
        return False
    venue = perf.get("venue") or {}
    # A calendar that knows no capacity (iCal) does not erase the one another source gave.
    capacity = perf.get("capacity") if perf.get("capacity") is not None else state["capacity"]
    state.update(cal_time=t, capacity=capacity, status=str(perf.get("status", "SCHEDULED")),
                 title=perf.get("title"), venue_name=venue.get("name"), city=venue.get("city"),
                 region=venue.get("region"), genre=perf.get("genre"), start=_ms(perf.get("start")),
                 url=perf.get("url"))
    _touch(state, perf)
    return True


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
    }

"""The availability job the peers do, as plain functions on a dict (no dependencies).

The same rules as ``streams.availability.state`` on one source per performance:
calendar facts set capacity, status and the descriptive fields when newer (event time);
ticket facts add to sold, reserved and blocked (cancellations and refunds take seats
back); remaining = capacity - sold - reserved - blocked (never below 0); the status is
SOLD_OUT, LIMITED (at ``threshold`` seats or fewer), AVAILABLE, CANCELLED or POSTPONED.
Deduplication by fact id is the caller's (it lives in each peer's own state store).

Kept free of imports beyond the standard library so it runs in the Quix Streams
virtualenv as well as in ours.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

__all__ = ["apply", "new_state", "record"]

_EFFECT = {"SOLD": ("sold", 1), "CANCELLED": ("sold", -1), "REFUNDED": ("sold", -1),
           "RESERVED": ("reserved", 1), "RESERVATION_RELEASED": ("reserved", -1),
           "BLOCKED": ("blocked", 1), "UNBLOCKED": ("blocked", -1)}
_SCHEMA_ORG = {"AVAILABLE": "InStock", "UNKNOWN": "InStock", "LIMITED": "LimitedAvailability",
               "SOLD_OUT": "SoldOut", "CANCELLED": "Discontinued", "POSTPONED": "OutOfStock"}


def _ms(value: Any) -> int | None:
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(value)


def new_state() -> dict[str, Any]:
    return {"cal_time": None, "capacity": None, "status": "SCHEDULED", "title": None, "venue_name": None,
            "city": None, "region": None, "genre": None, "start": None, "sold": 0, "reserved": 0,
            "blocked": 0, "refunded": 0, "version": 0, "last_fact_time": None}


def _touch(st: dict[str, Any], fact: dict[str, Any]) -> None:
    st["version"] += 1
    t = _ms(fact["event_time"])
    if st["last_fact_time"] is None or (t is not None and t > st["last_fact_time"]):
        st["last_fact_time"] = t


def apply(st: dict[str, Any], fact: dict[str, Any]) -> bool:
    """Apply one fact (calendar or ticket); returns whether availability changed."""
    if "event_type" in fact:
        effect = _EFFECT.get(str(fact["event_type"]))
        if effect is None:  # SCANNED: attendance, not availability
            return False
        counter, sign = effect
        st[counter] += sign * int(fact["quantity"])
        if counter == "sold" and sign < 0:
            st["refunded"] += int(fact["quantity"])
        _touch(st, fact)
        return True
    t = _ms(fact["event_time"])
    if st["cal_time"] is not None and t is not None and t <= st["cal_time"]:
        return False
    venue = fact.get("venue") or {}
    st.update(cal_time=t, capacity=fact.get("capacity", st["capacity"]), status=str(fact.get("status")),
              title=fact.get("title"), venue_name=venue.get("name"), city=venue.get("city"),
              region=venue.get("region"), genre=fact.get("genre"), start=_ms(fact.get("start")))
    _touch(st, fact)
    return True


def record(pid: str, st: dict[str, Any], threshold: int = 10) -> dict[str, Any]:
    """The Availability record (``availability.avsc``) of a state."""
    cap = st["capacity"]
    remaining = None if cap is None else max(cap - st["sold"] - st["reserved"] - st["blocked"], 0)
    if st["status"] in ("CANCELLED", "POSTPONED"):
        status = st["status"]
    elif remaining is None:
        status = "UNKNOWN"
    else:
        status = "SOLD_OUT" if remaining <= 0 else "LIMITED" if remaining <= threshold else "AVAILABLE"
    return {
        "performance_id": pid, "capacity": cap, "sold": st["sold"], "reserved": st["reserved"],
        "blocked": st["blocked"], "refunded": st["refunded"], "remaining": remaining, "status": status,
        "uit_booking_availability_type": "Available" if status in ("AVAILABLE", "LIMITED", "UNKNOWN")
        else "Unavailable",
        "schema_org_availability": "https://schema.org/" + _SCHEMA_ORG[status],
        "title": st["title"], "venue_name": st["venue_name"], "city": st["city"], "region": st["region"],
        "genre": st["genre"], "start": st["start"], "last_fact_time": st["last_fact_time"],
        "updated_at": int(time.time() * 1000), "version": st["version"],
    }

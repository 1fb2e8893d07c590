"""Door scans of one performance as pure functions on a plain dict (the table value).

Counts are commutative (a refund before its sale still nets out); first/last scan
times are min/max, so arrival order never matters. No-shows are known only once the
performance has started: ``sold - scanned``, never below zero.
"""

from __future__ import annotations

from typing import Any

__all__ = ["apply", "attendance_record", "new_state", "retract"]

State = dict[str, Any]
_SOLD_SIGN = {"SOLD": 1, "CANCELLED": -1, "REFUNDED": -1}


def new_state() -> State:
    return {"scanned": 0, "sold": 0, "first": None, "last": None, "start": None, "cal_time": None}


def _ms(value: Any) -> int | None:
    if value is None or isinstance(value, int):
        return value
    return int(value.timestamp() * 1000)


def apply(state: State, kind: str, fact: dict[str, Any]) -> bool:
    """Apply a ticket fact or a calendar fact; returns whether attendance changed."""
    return _count(state, kind, fact, 1)


def retract(state: State, kind: str, fact: dict[str, Any]) -> bool:
    """Take back a ticket fact counted before (it belongs to another performance, see
    ``streams.identity.reroute``): its scans or net sales are negated. First and last scan
    times stay, unless no scan is left. A calendar fact's retraction changes nothing here."""
    return kind == "ticket" and _count(state, kind, fact, -1)


def _count(state: State, kind: str, fact: dict[str, Any], direction: int) -> bool:
    if kind == "performance":
        t = _ms(fact["event_time"])
        if state["cal_time"] is not None and t is not None and t <= state["cal_time"]:
            return False
        state["cal_time"] = t
        state["start"] = _ms(fact.get("start"))
        return True
    if kind != "ticket":
        return False
    et = str(fact["event_type"])
    if et == "SCANNED":
        state["scanned"] += direction * int(fact["quantity"])
        if direction < 0:
            if state["scanned"] <= 0:
                state["first"] = state["last"] = None
            return True
        t = _ms(fact["event_time"])
        state["first"] = t if state["first"] is None else min(state["first"], t)
        state["last"] = t if state["last"] is None else max(state["last"], t)
        return True
    sign = _SOLD_SIGN.get(et)
    if sign is None:
        return False
    state["sold"] += direction * sign * int(fact["quantity"])
    return True


def attendance_record(performance_id: str, state: State, now_ms: int) -> dict[str, Any]:
    started = state["start"] is not None and now_ms >= state["start"]
    return {"performance_id": performance_id, "scanned": state["scanned"], "sold": state["sold"],
            "no_shows": max(state["sold"] - state["scanned"], 0) if started else None,
            "first_scan_time": state["first"], "last_scan_time": state["last"],
            "start": state["start"], "updated_at": now_ms}

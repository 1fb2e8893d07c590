"""Declared availability against computed availability, as pure functions on the state
of ``streams.availability.state`` (issue #13 item 2).

Calendars and vendors declare their own stock (``declared`` on Performance and
SalesSnapshot). The state keeps each source's newest declaration (``declared``: source ->
figure, newest by ``as_of``). The performance's ticketing source is connected when the
state holds ticket facts or snapshots (from any source), or a calendar fact keyed by a
vendor id (``vendor:<system>:<account>|...``: the ticketing system's own event feed,
e.g. a Ticketmatic event before its first sale).

- Connected: what is published is computed from ticket facts (basis ``computed``); the
  newest declaration is compared with it, like a bank statement with the ledger, at the
  statement's date: only when nothing was counted after it (``as_of`` >= the newest
  ticket fact's event time), because the state keeps no history to roll the ledger back.
  ``drift`` = computed remaining - declared remaining. The verdict (``recon``) changes
  only on such a comparison: DRIFT when ``|drift| > streams.declared_drift_seats``,
  RESOLVED when a drift is back within it (a ``Reconciliation`` record each time).
- Not connected: the newest declaration is published (basis ``declared``): SOLD_OUT or
  UNAVAILABLE is SOLD_OUT, a declared remaining is the remaining (its status by the
  LIMITED threshold), LIMITED is LIMITED; a bare AVAILABLE (UiTdatabank's default for
  every event) changes nothing. A cancelled or postponed show stays so.
"""

from __future__ import annotations

from typing import Any

from streams.availability.state import (
    _EFFECT,
    _SCHEMA_ORG_OF,
    SCHEMA_ORG,
    State,
    _ms,
    _source,
    _touch,
    availability_record,
    status_of,
)

__all__ = ["apply_declared", "availability", "in_drift", "newest_declared", "reconcile",
           "ticketing_connected"]


def availability(performance_id: str, state: State, *, limited_threshold: int,
                 now_ms: int) -> dict[str, Any]:
    """The Availability record with its basis, declared fields and drift."""
    rec = availability_record(performance_id, state, limited_threshold=limited_threshold,
                              now_ms=now_ms)
    _declared_view(state, rec, limited_threshold)
    return rec


def _declared_of(state: State) -> dict[str, Any]:
    return state.setdefault("declared", {})


def apply_declared(state: State, kind: str, fact: dict[str, Any]) -> bool:
    """Note what a fact says about declared availability and connected ticketing; returns
    whether the declared figures changed (ticket facts themselves are counted elsewhere)."""
    t = _ms(fact["event_time"]) or 0
    if kind in ("ticket", "snapshot"):
        if kind == "snapshot" or str(fact.get("event_type")) in _EFFECT:
            state["ticket_time"] = max(state.get("ticket_time") or 0, t)
    elif str(fact.get("performance_key", "")).startswith("vendor:"):
        state["vendor_calendar"] = True
    decl = fact.get("declared")
    if not decl:
        return False
    src = _source(fact)
    new = {"status": str(decl["status"]), "capacity": decl.get("capacity"),
           "remaining": decl.get("remaining"), "field": decl.get("source_field"),
           "as_of": _ms(decl["as_of"]), "source": src}
    held = _declared_of(state).get(src)
    if held is not None and (held["as_of"], str(held)) >= (new["as_of"], str(new)):
        return False
    _declared_of(state)[src] = new
    _touch(state, fact)
    return True


def ticketing_connected(state: State) -> bool:
    return bool(state["events"] or state["snapshots"] or state.get("vendor_calendar"))


def newest_declared(state: State) -> dict[str, Any] | None:
    held = _declared_of(state).values()
    return max(held, key=lambda d: (d["as_of"], d["source"])) if held else None


def _declared_view(state: State, rec: dict[str, Any], limited_threshold: int) -> None:
    """Fill the record's basis/declared/drift fields, and apply a declaration where no
    ticketing source is connected (see above)."""
    decl = newest_declared(state)
    rec.update(basis="computed", declared_status=None, declared_remaining=None, declared_source=None,
               declared_at=None, drift=None)
    if decl is None:
        return
    rec.update(declared_status=decl["status"], declared_remaining=decl["remaining"],
               declared_source=decl["source"], declared_at=decl["as_of"])
    if ticketing_connected(state):
        if (decl["remaining"] is not None and rec["remaining"] is not None
                and decl["as_of"] >= (state.get("ticket_time") or 0)):
            rec["drift"] = rec["remaining"] - decl["remaining"]
        return
    rec["basis"] = "declared"
    if decl["capacity"] is not None and state["capacity"] is None:
        rec["capacity"] = decl["capacity"]
    if decl["remaining"] is not None:
        rec["remaining"] = decl["remaining"]
    if rec["status"] in ("CANCELLED", "POSTPONED"):
        return
    if decl["status"] in ("SOLD_OUT", "UNAVAILABLE"):
        status = "SOLD_OUT"
    elif decl["remaining"] is not None:
        status = status_of(state, decl["remaining"], limited_threshold)
    elif decl["status"] == "LIMITED":
        status = "LIMITED"
    else:
        return
    booking = "Available" if status in ("AVAILABLE", "LIMITED") else "Unavailable"
    rec.update(status=status, uit_booking_availability_type=booking,
               schema_org_availability=SCHEMA_ORG + _SCHEMA_ORG_OF[status])


def reconcile(performance_id: str, state: State, rec: dict[str, Any], *, drift_seats: int,
              now_ms: int) -> dict[str, Any] | None:
    """The Reconciliation record (as fastavro writes it) when the verdict on this
    performance changes, else None; keeps the verdict in ``state["recon"]``."""
    drift = rec.get("drift")
    if drift is None:
        return None
    held = state.get("recon")
    if abs(drift) > drift_seats:
        verdict = "DRIFT"
        if held and held["state"] == "DRIFT" and held["drift"] == drift \
                and held["declared_at"] == rec["declared_at"]:
            return None
    elif held and held["state"] == "DRIFT":
        verdict = "RESOLVED"
    else:
        return None
    state["recon"] = {"state": verdict, "drift": drift, "declared_at": rec["declared_at"]}
    decl = newest_declared(state) or {}
    return {"performance_id": performance_id, "state": verdict, "computed_remaining": rec["remaining"],
            "computed_sold": rec["sold"], "declared_remaining": rec["declared_remaining"],
            "declared_status": rec["declared_status"] or "UNKNOWN",
            "declared_source": rec["declared_source"] or "", "declared_field": decl.get("field"),
            "declared_at": rec["declared_at"], "drift": drift, "threshold": drift_seats,
            "detected_at": now_ms}


def in_drift(state: State) -> bool:
    return (state.get("recon") or {}).get("state") == "DRIFT"

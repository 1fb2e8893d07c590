"""Sales per performance per hour and day, per ticket type and channel.

A ticket fact adds its signed quantity and revenue to the windows holding its event
time. A cumulative snapshot becomes deltas against the newest snapshot held for its
source (a snapshot older than the one held is ignored; one that goes backwards yields
negative deltas: refunds), attributed to the snapshot's event time and channel
``snapshot``. A retraction (a fact that belongs to another performance, see
``streams.identity.reroute``) takes the fact's deltas back out.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DAY_MS", "HOUR_MS", "retracted_snapshot_deltas", "snapshot_deltas", "ticket_deltas", "window_key",
           "windows_of"]

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
_SIGN = {"SOLD": 1, "CANCELLED": -1, "REFUNDED": -1}

Delta = tuple[str, str, int, int]  # ticket_type, channel, tickets, revenue_cents


def _ms(value: Any) -> int:
    return value if isinstance(value, int) else int(value.timestamp() * 1000)


def windows_of(event_time_ms: int) -> list[tuple[str, int]]:
    """The (granularity, window start) pairs an event time falls in (UTC windows)."""
    return [("HOUR", event_time_ms - event_time_ms % HOUR_MS),
            ("DAY", event_time_ms - event_time_ms % DAY_MS)]


def window_key(performance_id: str, granularity: str, start_ms: int, ticket_type: str,
               channel: str) -> str:
    return f"{performance_id}|{granularity}|{start_ms}|{ticket_type}|{channel}"


def ticket_deltas(fact: dict[str, Any], direction: int = 1) -> list[Delta]:
    """What a ticket fact adds to its windows (``direction`` -1: what its retraction takes out)."""
    sign = _SIGN.get(str(fact["event_type"]))
    if sign is None:
        return []
    q = int(fact["quantity"]) * sign * direction
    return [(str(fact["ticket_type"]), fact.get("channel") or "unknown", q,
             q * int(fact.get("price_cents", 0)))]


def snapshot_deltas(held: dict[str, Any] | None,
                    snap: dict[str, Any]) -> tuple[list[Delta], dict[str, Any] | None]:
    """Deltas of ``snap`` against the held snapshot of its source, and what to hold next.

    Returns ``([], None)`` when the snapshot is not newer than the one held.
    """
    t = _ms(snap["event_time"])
    if held is not None and held["time"] >= t:
        return [], None
    before = held["lines"] if held else {}
    now = {str(line["ticket_type"]): [int(line["tickets"]), int(line["revenue_cents"])]
           for line in snap.get("lines", [])}
    deltas = []
    for tt in sorted(set(before) | set(now)):
        b = before.get(tt, [0, 0])
        n = now.get(tt, [0, 0])
        if n != b:
            deltas.append((tt, "snapshot", n[0] - b[0], n[1] - b[1]))
    return deltas, {"time": t, "lines": now}


def retracted_snapshot_deltas(held: dict[str, Any] | None,
                              snap: dict[str, Any]) -> tuple[list[Delta], dict[str, Any] | None]:
    """Deltas that take a retracted snapshot's source back out of the windows, and what to
    hold next (as if nothing were held).

    When ``snap`` is the snapshot held, its cumulative lines come out at its event time (the
    windows of that source then sum to zero; how they were spread over time stays);
    ``([], None)`` for an older one, whose deltas the held one superseded.
    """
    if held is None or held["time"] != _ms(snap["event_time"]):
        return [], None
    deltas = [(tt, "snapshot", -n[0], -n[1]) for tt, n in sorted(held["lines"].items()) if n != [0, 0]]
    return deltas, {"time": -1, "lines": {}}

"""Sales per performance per hour and day, per ticket type and channel.

A ticket fact adds its signed quantity and revenue to the windows holding its event
time. A cumulative snapshot becomes deltas against the newest snapshot held for its
source (a snapshot older than the one held is ignored; one that goes backwards yields
negative deltas: refunds), attributed to the snapshot's event time and channel
``snapshot``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DAY_MS", "HOUR_MS", "snapshot_deltas", "ticket_deltas", "window_key", "windows_of"]

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


def ticket_deltas(fact: dict[str, Any]) -> list[Delta]:
    sign = _SIGN.get(str(fact["event_type"]))
    if sign is None:
        return []
    q = int(fact["quantity"]) * sign
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

"""How many facts each delivery becomes: the connectors' granularity, in one place that
both the drivers (what they expect back) and the truth (what the topics must hold)
read.

- Eventix, Eventbrite, Ticketmatic and the box-office CSV (one row per ticket) report
  per ticket: a happening of ``quantity`` tickets is ``quantity`` facts.
- Stager: one snapshot per push.
- DIP cumulative: one snapshot per PUT (``dip_calls``).
- Calendars: one fact per performance and calendar; a Ticketmatic event item is one
  more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.simulator.model import (
    BOXOFFICE_CSV,
    EVENTBRITE,
    EVENTIX,
    TICKETMATIC,
    SimPerformance,
    Snapshot,
    TicketHappening,
)

__all__ = ["DipCall", "calendar_facts", "dip_calls", "ticket_facts"]

_PER_TICKET = (EVENTIX, EVENTBRITE, TICKETMATIC, BOXOFFICE_CSV)


def ticket_facts(kind: str, h: TicketHappening) -> int:
    """Facts on ``ticketing.events`` that happening ``h`` becomes at a ``kind`` source."""
    if kind in _PER_TICKET:
        return h.quantity
    raise ValueError(f"{kind} reports snapshots, not ticket events")


def calendar_facts(perf: SimPerformance) -> int:
    """Facts on ``calendar.performances`` describing ``perf``."""
    return len(perf.calendars) + (1 if perf.ticketing == TICKETMATIC else 0)


@dataclass(frozen=True)
class DipCall:
    """One ``PUT`` to the DIP receiver: ``part`` and its JSON body (without ``updated``)."""

    part: str  # tickets | reservations | blocked-seats | capacity
    body: dict[str, object]
    updated: datetime


def dip_calls(snapshots: list[Snapshot]) -> list[list[DipCall]]:
    """The PUTs a ticketing system makes for one performance's snapshots, per snapshot.

    The first snapshot also sends the capacity; every snapshot sends the tickets;
    reservations and blocked seats are sent when they changed (and are not zero the
    first time). Each call of a snapshot is stamped one second apart, ending at the
    snapshot's time (capacity, tickets, reservations, blocked seats), so downstream,
    which keeps the newest snapshot per source, sees each merged state in turn.
    """
    out: list[list[DipCall]] = []
    last_res: tuple[int, int] = (0, 0)
    last_blk: tuple[int, int] = (0, 0)
    for n, snap in enumerate(snapshots):
        calls: list[tuple[str, dict[str, object]]] = []
        if n == 0:
            calls.append(("capacity", {"capacity": snap.capacity}))
        calls.append(("tickets", {line.ticket_type.lower(): {"tickets": line.tickets,
                                                             "recette": line.revenue_cents}
                                  for line in snap.lines}))
        res = (snap.reservations, snap.reservations_value_cents)
        if res != last_res:
            calls.append(("reservations", {"reservations": res[0], "value": max(res[1], 0)}))
            last_res = res
        blk = (snap.blocked_seats, snap.blocked_value_cents)
        if blk != last_blk:
            calls.append(("blocked-seats", {"blockedSeats": blk[0], "value": max(blk[1], 0)}))
            last_blk = blk
        k = len(calls)
        out.append([DipCall(part, body, snap.event_time - timedelta(seconds=k - 1 - i))
                    for i, (part, body) in enumerate(calls)])
    return out

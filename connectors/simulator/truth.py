"""Ground truth: what the bus must end up saying about every performance of a season.

Computed from the ``Season`` alone (never from Kafka), per canonical performance id:

- ``capacity``: the hall's seats (what every calendar reports).
- ``calendar_status``: SCHEDULED, CANCELLED or POSTPONED at ``now``.
- Event-sourced performances (eventix, eventbrite, ticketmatic, boxoffice-csv):
  ``sold`` = SOLD - CANCELLED - REFUNDED quantities; ``refunded`` = CANCELLED +
  REFUNDED quantities; ``reserved`` = RESERVED - RESERVATION_RELEASED (open holds);
  ``blocked`` = BLOCKED - UNBLOCKED; ``scanned`` = SCANNED quantities;
  ``tickets``/``revenue_cents`` per ticket type = signed quantity and quantity x unit
  price of SOLD (+) and CANCELLED/REFUNDED (-).
- Snapshot-sourced performances (stager, dip-cumulative): the final cumulative
  snapshot gives ``sold`` (sum of its lines), ``tickets``/``revenue_cents`` per type,
  ``reserved`` and ``blocked``; ``refunded`` = the sum of the drops of cumulative sold
  between consecutive snapshots (what a receiver of cumulative numbers can know);
  these sources report no scans, so ``scanned`` = 0 and ``scans_reported`` = false.
- ``remaining`` = max(capacity - sold - reserved - blocked, 0).
- ``availability``: CANCELLED / POSTPONED by calendar status, else SOLD_OUT when
  remaining == 0, LIMITED when remaining <= 10, else AVAILABLE.
- ``started``: start <= now and SCHEDULED; ``no_shows`` = max(sold - scanned, 0) for
  started performances, else null.
- ``facts``: how many distinct facts each topic must hold for the performance, by
  the connectors' granularity (``connectors.simulator.granularity``): on
  ``ticketing.events`` one per ticket (Eventix, Eventbrite, Ticketmatic, box-office
  CSV rows); on ``ticketing.snapshots`` one per Stager push or
  DIP ``PUT``; on ``calendar.performances`` one per calendar describing it (DIP
  calendar or UiTdatabank, the venue's schema.org page, its iCal feed) plus one for
  Ticketmatic's own event item (which links the vendor id to the canonical id).
- ``identifiers``: every identifier key some source attaches to the performance.
- ``descriptions``: source kind -> the reference of that source's description of the
  performance (``realism.ref_of`` reads it back from a ``Performance`` record), so every
  description maps to its performance even where no identifier links them (real seasons).
- ``declared``: true for a performance without a ticketing connector (real seasons):
  the bus sees no ticket facts, only the venue's declared remaining seats, so the truth
  states what the bus must show: ``remaining`` = the figure the venue declared
  (``realism.declared_remaining``, exact), ``availability`` from it; ``sold``,
  ``refunded``, ``scanned``, ``tickets`` and ``revenue_cents`` are 0 (the venue's own
  sales never reach the bus) and ``scans_reported`` is false.

The file is JSON: ``{"seed", "now", "params", "performances": {id: {...}}, "totals",
"facts"}`` with sorted keys, so equal seasons give equal bytes.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from connectors.simulator.granularity import calendar_facts, dip_calls, ticket_facts
from connectors.simulator.model import (
    DECLARED,
    DIP_CUMULATIVE,
    SNAPSHOT_KINDS,
    VENDOR_SYSTEMS,
    Season,
    SimPerformance,
    Snapshot,
    TicketHappening,
)
from connectors.simulator.realism import declared_remaining, description_refs
from schemas.models import Identifier

__all__ = ["LIMITED_THRESHOLD", "TOPICS", "compute_truth", "identifiers_of", "vendor_identifier",
           "write_truth"]

LIMITED_THRESHOLD = 10
TOPICS = ("ticketing.events", "ticketing.snapshots", "calendar.performances")
_TYPES = ("NORMAL", "DISCOUNT", "FREE", "OTHER")
_SIGNED = {"SOLD": ("sold", 1), "CANCELLED": ("sold", -1), "REFUNDED": ("sold", -1),
           "RESERVED": ("reserved", 1), "RESERVATION_RELEASED": ("reserved", -1),
           "BLOCKED": ("blocked", 1), "UNBLOCKED": ("blocked", -1), "SCANNED": ("scanned", 1)}


def vendor_identifier(perf: SimPerformance) -> Identifier | None:
    """The vendor's own identifier of the performance (None for dip-cumulative)."""
    if perf.vendor_id is None:
        return None
    return Identifier.vendor(VENDOR_SYSTEMS[perf.ticketing], perf.account, perf.vendor_id)


def identifiers_of(perf: SimPerformance) -> list[str]:
    """Every identifier key a source attaches to the performance (canonical first)."""
    keys = [perf.canonical_id]
    vendor = vendor_identifier(perf)
    if vendor is not None:
        keys.append(vendor.key)
    return keys


def _status(calendar_status: str, remaining: int) -> str:
    if calendar_status in ("CANCELLED", "POSTPONED"):
        return calendar_status
    if remaining <= 0:
        return "SOLD_OUT"
    if remaining <= LIMITED_THRESHOLD:
        return "LIMITED"
    return "AVAILABLE"


def _from_events(happenings: list[TicketHappening]) -> dict[str, Any]:
    c = Counter[str]()
    tickets = dict.fromkeys(_TYPES, 0)
    revenue = dict.fromkeys(_TYPES, 0)
    for h in happenings:
        what, sign = _SIGNED[h.event_type]
        c[what] += sign * h.quantity
        if what == "sold":
            tickets[h.ticket_type] += sign * h.quantity
            revenue[h.ticket_type] += sign * h.quantity * h.price_cents
            if sign < 0:
                c["refunded"] += h.quantity
    return {"sold": c["sold"], "refunded": c["refunded"], "reserved": c["reserved"],
            "blocked": c["blocked"], "scanned": c["scanned"], "tickets": tickets,
            "revenue_cents": revenue, "scans_reported": True}


def _from_snapshots(snaps: list[Snapshot]) -> dict[str, Any]:
    if not snaps:
        return {"sold": 0, "refunded": 0, "reserved": 0, "blocked": 0, "scanned": 0,
                "tickets": dict.fromkeys(_TYPES, 0), "revenue_cents": dict.fromkeys(_TYPES, 0),
                "scans_reported": False}
    refunded, prev = 0, 0
    for s in snaps:
        refunded += max(prev - s.sold, 0)
        prev = s.sold
    last = snaps[-1]
    return {"sold": last.sold, "refunded": refunded, "reserved": last.reservations,
            "blocked": last.blocked_seats, "scanned": 0,
            "tickets": {line.ticket_type: line.tickets for line in last.lines},
            "revenue_cents": {line.ticket_type: line.revenue_cents for line in last.lines},
            "scans_reported": False}


def _snapshot_facts(kind: str, snaps: list[Snapshot]) -> int:
    if kind == DIP_CUMULATIVE:
        return sum(len(calls) for calls in dip_calls(snaps))
    return len(snaps) if kind in SNAPSHOT_KINDS else 0


def compute_truth(season: Season) -> dict[str, Any]:
    """The ground truth of ``season`` as a JSON-ready dict."""
    by_perf: dict[str, list[TicketHappening]] = {p.canonical_id: [] for p in season.performances}
    for h in season.happenings:
        by_perf[h.performance].append(h)
    snaps: dict[str, list[Snapshot]] = {p.canonical_id: [] for p in season.performances}
    for s in season.snapshots:
        snaps[s.performance].append(s)
    perfs: dict[str, Any] = {}
    topic_totals = Counter[str]()
    totals = Counter[str]()
    by_kind: dict[str, Counter[str]] = {}
    for p in season.performances:
        cid = p.canonical_id
        snapshot_sourced = p.ticketing in SNAPSHOT_KINDS
        if p.ticketing == DECLARED:  # no ticket fact reaches the bus: it shows the declaration
            nums, remaining = _from_snapshots([]), declared_remaining(season, p)
        else:
            nums = _from_snapshots(snaps[cid]) if snapshot_sourced else _from_events(by_perf[cid])
            remaining = max(p.capacity - nums["sold"] - nums["reserved"] - nums["blocked"], 0)
        started = season.started(p)
        facts = {"ticketing.events": 0 if snapshot_sourced or p.ticketing == DECLARED else sum(
                     ticket_facts(p.ticketing, h) for h in by_perf[cid]),
                 "ticketing.snapshots": _snapshot_facts(p.ticketing, snaps[cid]),
                 "calendar.performances": calendar_facts(p)}
        venue = season.venue(p.venue)
        prod = season.production(p.production_id)
        perfs[cid] = {
            **nums,
            "capacity": p.capacity, "calendar_status": p.status, "remaining": remaining,
            "availability": _status(p.status, remaining), "started": started,
            "no_shows": max(nums["sold"] - nums["scanned"], 0) if started else None,
            "start": p.start.isoformat(), "title": prod.title, "genre": prod.genre,
            "venue": venue.name, "city": venue.city, "country": venue.country,
            "ticketing": p.ticketing, "account": p.account, "calendars": list(p.calendars),
            "identifiers": identifiers_of(p), "sold_out_by_design": p.sold_out,
            "facts": facts, "descriptions": description_refs(season, p),
            "declared": p.ticketing == DECLARED,
        }
        topic_totals.update(facts)
        kind = by_kind.setdefault(p.ticketing, Counter())
        kind.update({"performances": 1, **facts})
        for k in ("sold", "refunded", "reserved", "blocked", "scanned"):
            totals[k] += nums[k]
        totals["capacity"] += p.capacity
        totals["revenue_cents"] += sum(nums["revenue_cents"].values())
        totals["sold_out"] += perfs[cid]["availability"] == "SOLD_OUT"
    return {
        "seed": season.seed, "now": season.now.isoformat(), "params": dict(season.params),
        "performances": perfs,
        "totals": {**dict(totals), "performances": len(perfs),
                   "ticketing_kinds": {k: dict(v) for k, v in sorted(by_kind.items())},
                   "calendar_kinds": dict(Counter(c for p in season.performances for c in p.calendars))},
        "facts": {t: topic_totals[t] for t in TOPICS},
    }


def write_truth(season: Season, path: Path) -> dict[str, Any]:
    """Compute the truth and write it to ``path`` (canonical JSON); returns it."""
    truth = compute_truth(season)
    path.write_text(json.dumps(truth, sort_keys=True, indent=1, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    return truth

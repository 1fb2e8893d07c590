"""The ticket life of one performance, simulated in time order.

Rules (all draws from the season's ``random.Random``):

- **On sale** at ``perf.on_sale``. House seats are **blocked** right then (1-5 % of
  the hall, in one or two actions); a third of the venues later **unblock** part of
  them (never for a sold-out performance).
- **Demand** follows a sales curve over the on-sale period ``x`` in [0, 1]:
  ``F(x) = 0.3 * early bump (1 - e^(-x/0.06)) + 0.7 * (e^(4.5x) - 1)/(e^4.5 - 1)``.
  The tickets asked for by the horizon are ``popularity * capacity * F(x_horizon)``
  (``1.4 * capacity`` for a performance meant to sell out); order times are drawn by
  inverting ``F``. Orders hold 1-6 tickets of one ticket type (NORMAL 68 %,
  DISCOUNT 22 %, FREE 3 %, OTHER 7 %) through one channel (web, box_office, reseller).
- **Capacity** is never exceeded: an order gets at most the seats left
  (``capacity - sold - reserved - blocked``); when none are left the demand is lost.
- **Reservations** (kinds that can report them, see ``model.CAPABILITIES``; blocked
  seats likewise): 5 % of orders are first held (RESERVED); each is later either
  converted (60 %: RESERVATION_RELEASED + SOLD at the same moment) or released; a
  hold still open when the performance starts is released at the start.
- **Refunds**: 3 % of sales are undone later (REFUNDED 70 %, CANCELLED 30 %), before
  the show and before ``now``.
- **Cancelled** performance: sales stop at the cancellation; shortly after, every
  ticket still sold is REFUNDED and open holds are released.
- **Postponed** performance: sales stop at the postponement; tickets stay sold.
- **Door scans** (started performances only): 85-95 % (a rate drawn per
  performance) of the tickets still sold are SCANNED, between 50 minutes before and
  15 minutes after the start (never before the ticket was sold, never after ``now``);
  one SCANNED happening per ticket.
- Sales stop at ``min(now, start, status change)``; no happening lies after ``now``.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from connectors.simulator.model import Snapshot, SnapshotLine, TicketHappening
from connectors.simulator.people import BuyerPool

__all__ = ["PerformancePlan", "curve", "simulate_performance", "snapshots_of", "unit_prices"]

T = TypeVar("T")
_W, _A, _K = 0.3, 0.06, 4.5
_TYPES = (("NORMAL", 0.68), ("DISCOUNT", 0.22), ("FREE", 0.03), ("OTHER", 0.07))
_CHANNELS = (("web", 0.72), ("box_office", 0.18), ("reseller", 0.10))
_QTY = ((1, 0.22), (2, 0.48), (3, 0.09), (4, 0.13), (5, 0.04), (6, 0.04))


def curve(x: float) -> float:
    """Share of the demand that has bought by on-sale fraction ``x`` (0..1)."""
    x = min(max(x, 0.0), 1.0)
    bump = (1 - math.exp(-x / _A)) / (1 - math.exp(-1 / _A))
    rise = (math.exp(_K * x) - 1) / (math.exp(_K) - 1)
    return _W * bump + (1 - _W) * rise


def _inverse(u: float) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = (lo + hi) / 2
        if curve(mid) < u:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def unit_prices(base_cents: int) -> dict[str, int]:
    """Unit price per ticket type for a production's base price."""
    def r(v: float) -> int:
        return int(round(v / 50.0)) * 50
    return {"NORMAL": base_cents, "DISCOUNT": r(base_cents * 0.75), "FREE": 0,
            "OTHER": r(base_cents * 0.9)}


def _weighted(rng: random.Random, table: tuple[tuple[T, float], ...]) -> T:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def _sec(t: datetime) -> int:
    return int(t.timestamp())


def _dt(s: float) -> datetime:
    return datetime.fromtimestamp(int(s), UTC)


@dataclass
class PerformancePlan:
    """What ``simulate_performance`` needs to know about one performance."""

    key: str  # canonical id
    index: int  # position in the season, for readable ids
    start: datetime
    on_sale: datetime
    capacity: int
    popularity: float
    sold_out: bool
    status: str
    status_changed_at: datetime | None
    venue_country: str
    base_price_cents: int
    holds: bool = True
    blocks: bool = True
    now: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass
class _Order:
    id: str
    qty: int
    ticket_type: str
    price: int
    channel: str
    customer: str
    live: bool = True  # still sold (not refunded)
    sold_at: int = 0


class _Sim:
    def __init__(self, rng: random.Random, plan: PerformancePlan, pool: BuyerPool) -> None:
        self.rng, self.plan, self.pool = rng, plan, pool
        self.out: list[TicketHappening] = []
        self.heap: list[tuple[int, int, str, object]] = []
        self.seq = 0
        self.sold = self.reserved = self.blocked = 0
        self.orders: list[_Order] = []
        self.holds: dict[str, _Order] = {}
        self.prices = unit_prices(plan.base_price_cents)
        now = _sec(plan.now)
        stop = min(now, _sec(plan.start))
        if plan.status_changed_at is not None:
            stop = min(stop, _sec(plan.status_changed_at))
        self.horizon = stop
        self.refund_horizon = min(now, _sec(plan.start))

    # -- plumbing ---------------------------------------------------------------------
    def at(self, t: int, action: str, payload: object = None) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (t, self.seq, action, payload))

    def emit(self, t: int, event_type: str, qty: int, order: _Order | None,
             ticket_ids: tuple[str, ...] = (), ticket_type: str = "NORMAL", price: int = 0) -> None:
        n = len(self.out)
        self.out.append(TicketHappening(
            id=f"{self.plan.index:04d}-{n:05d}", performance=self.plan.key, event_type=event_type,
            quantity=qty, ticket_type=order.ticket_type if order else ticket_type,
            price_cents=order.price if order else price,
            order_id=order.id if order else f"B{self.plan.index:04d}-{n:05d}",
            ticket_ids=ticket_ids, channel=order.channel if order else "box_office",
            customer_id=order.customer if order else None, event_time=_dt(t)))

    @property
    def left(self) -> int:
        return self.plan.capacity - self.sold - self.reserved - self.blocked

    def tickets(self, order: _Order) -> tuple[str, ...]:
        return tuple(f"{order.id}-{k + 1}" for k in range(order.qty))

    # -- the life -----------------------------------------------------------------------
    def plan_all(self) -> None:
        p, rng = self.plan, self.rng
        on_sale = _sec(p.on_sale)
        if on_sale >= self.horizon:
            return
        if p.blocks:
            total = max(2, round(p.capacity * rng.uniform(0.01, 0.05)))
            first = total if total < 6 or rng.random() < 0.5 else total // 2
            self.at(on_sale, "block", first)
            if total - first:
                self.at(on_sale + rng.randint(600, 7200), "block", total - first)
            if not p.sold_out and rng.random() < 0.35:
                t = on_sale + rng.randint(7 * 86400, 30 * 86400)
                if t < self.horizon:
                    self.at(t, "unblock", None)
        span = max(_sec(p.start) - on_sale, 3600)
        x_h = (self.horizon - on_sale) / span
        asked = (1.4 * p.capacity if p.sold_out
                 else p.popularity * p.capacity * curve(x_h))
        f_h = curve(x_h)
        wanted, n = 0, 0
        while wanted < asked and f_h > 0:
            t = on_sale + int(_inverse(rng.uniform(0, f_h)) * span)
            t = min(max(t, on_sale + 60), self.horizon - 1)
            tt = _weighted(rng, _TYPES)
            qty = _weighted(rng, _QTY) if tt != "FREE" else rng.randint(1, 2)
            n += 1
            order = _Order(f"O{p.index:04d}{n:05d}", qty, tt, self.prices[tt],
                           _weighted(rng, _CHANNELS), self.pool.pick(rng, p.venue_country).id)
            hold = p.holds and not p.sold_out and rng.random() < 0.05
            self.at(t, "hold" if hold else "sell", order)
            wanted += qty
        if p.status == "CANCELLED" and p.status_changed_at is not None:
            self.at(_sec(p.status_changed_at) + rng.randint(300, 7200), "refund_all", None)

    def run(self) -> list[TicketHappening]:
        self.plan_all()
        rng, p = self.rng, self.plan
        while self.heap:
            t, _, action, payload = heapq.heappop(self.heap)
            if action == "block":
                qty = min(int(payload), self.left)  # type: ignore[call-overload]
                if qty > 0:
                    self.blocked += qty
                    self.emit(t, "BLOCKED", qty, None, price=self.prices["NORMAL"])
            elif action == "unblock" and self.blocked > 1:
                qty = rng.randint(1, self.blocked // 2 or 1)
                self.blocked -= qty
                self.emit(t, "UNBLOCKED", qty, None, price=self.prices["NORMAL"])
            elif action in ("sell", "hold"):
                self._order(t, action, payload)  # type: ignore[arg-type]
            elif action == "resolve":
                self._resolve(t, payload)  # type: ignore[arg-type]
            elif action == "refund":
                order = payload
                assert isinstance(order, _Order)
                if order.live:
                    order.live = False
                    self.sold -= order.qty
                    kind = "REFUNDED" if rng.random() < 0.7 else "CANCELLED"
                    self.emit(t, kind, order.qty, order, self.tickets(order))
            elif action == "refund_all":
                for hold in list(self.holds.values()):
                    self._release(t, hold)
                for order in self.orders:
                    if order.live:
                        order.live = False
                        self.sold -= order.qty
                        self.emit(t, "REFUNDED", order.qty, order, self.tickets(order))
        if p.start <= p.now and p.status == "SCHEDULED":
            self._scans()
        return self.out

    def _order(self, t: int, action: str, order: _Order) -> None:
        qty = min(order.qty, self.left)
        if qty <= 0:
            return
        order.qty = qty
        rng = self.rng
        if action == "hold":
            self.reserved += qty
            self.holds[order.id] = order
            self.emit(t, "RESERVED", qty, order, self.tickets(order))
            rt = t + rng.randint(2 * 3600, 4 * 86400)
            if rt < self.horizon:
                self.at(rt, "resolve", order)
            elif self.plan.start <= self.plan.now and self.plan.status == "SCHEDULED":
                self.at(_sec(self.plan.start), "resolve", order)
            return
        self.sold += qty
        order.sold_at = t
        self.orders.append(order)
        self.emit(t, "SOLD", qty, order, self.tickets(order))
        if not self.plan.sold_out and rng.random() < 0.03:
            rt = t + rng.randint(3600, 10 * 86400)
            if rt < self.refund_horizon:
                self.at(rt, "refund", order)

    def _release(self, t: int, order: _Order) -> None:
        self.holds.pop(order.id, None)
        self.reserved -= order.qty
        self.emit(t, "RESERVATION_RELEASED", order.qty, order, self.tickets(order))

    def _resolve(self, t: int, order: _Order) -> None:
        if order.id not in self.holds:
            return
        self._release(t, order)
        if t < self.horizon and self.rng.random() < 0.6:  # converted into a sale
            self.sold += order.qty
            order.sold_at = t
            self.orders.append(order)
            self.emit(t, "SOLD", order.qty, order, self.tickets(order))

    def _scans(self) -> None:
        rng, p = self.rng, self.plan
        show_up = rng.uniform(0.85, 0.95)
        start, now = _sec(p.start), _sec(p.now)
        valid = [(tid, order) for order in self.orders if order.live for tid in self.tickets(order)]
        shown = rng.sample(valid, round(len(valid) * show_up))
        scans = [(min(max(start + rng.randint(-50 * 60, 15 * 60), order.sold_at + 60), now),
                  tid, order) for tid, order in shown]
        for t, tid, order in sorted(scans, key=lambda s: (s[0], s[1])):
            self.emit(t, "SCANNED", 1, order, (tid,))


def simulate_performance(rng: random.Random, plan: PerformancePlan, pool: BuyerPool
                         ) -> list[TicketHappening]:
    """Every ticket happening of one performance, in event-time order."""
    out = _Sim(rng, plan, pool).run()
    return sorted(out, key=lambda h: (h.event_time, h.id))


_SIGN = {"SOLD": ("sold", 1), "CANCELLED": ("sold", -1), "REFUNDED": ("sold", -1),
         "RESERVED": ("res", 1), "RESERVATION_RELEASED": ("res", -1),
         "BLOCKED": ("blk", 1), "UNBLOCKED": ("blk", -1)}


def snapshots_of(plan: PerformancePlan, happenings: list[TicketHappening],
                 normal_price: int) -> list[Snapshot]:
    """Cumulative snapshots a DIP-style source reports: nightly (03:00 UTC) while
    anything changed, and a last one at ``now`` (so the last snapshot is exact)."""
    if not happenings:
        return []
    types = ("NORMAL", "DISCOUNT", "FREE", "OTHER")
    tickets = dict.fromkeys(types, 0)
    revenue = dict.fromkeys(types, 0)
    cum = {"res": 0, "res_value": 0, "blk": 0}
    out: list[Snapshot] = []
    first = happenings[0].event_time
    point = first.replace(hour=3, minute=0, second=0) + timedelta(days=1)
    points = []
    while point < plan.now - timedelta(minutes=1):  # calls of two snapshots never overlap
        points.append(point)
        point += timedelta(days=1)
    points.append(plan.now)
    i, changed = 0, False
    for point in points:
        while i < len(happenings) and happenings[i].event_time <= point:
            h = happenings[i]
            i += 1
            effect = _SIGN.get(h.event_type)
            if effect is None:
                continue
            what, sign = effect
            changed = True
            if what == "sold":
                tickets[h.ticket_type] += sign * h.quantity
                revenue[h.ticket_type] += sign * h.quantity * h.price_cents
            elif what == "res":
                cum["res"] += sign * h.quantity
                cum["res_value"] += sign * h.quantity * h.price_cents
            else:
                cum["blk"] += sign * h.quantity
        if not changed:
            continue
        changed = False
        out.append(Snapshot(
            id=f"{plan.index:04d}-s{len(out):03d}", performance=plan.key, event_time=point,
            lines=tuple(SnapshotLine(t, tickets[t], revenue[t]) for t in types),
            reservations=cum["res"], reservations_value_cents=cum["res_value"],
            blocked_seats=cum["blk"], blocked_value_cents=cum["blk"] * normal_price,
            capacity=plan.capacity))
    return out

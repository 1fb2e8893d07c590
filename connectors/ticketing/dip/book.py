"""The latest cumulative parts per performance, and the snapshot they make.

DIP's calls each carry one part of a performance's numbers (tickets per type,
reservations, blocked seats, capacity), but a ``SalesSnapshot`` carries them all. So a
snapshot is the part the call carried merged with the latest other parts this
connector accepted for the same performance.

Those parts are kept in memory *and* durably in ``connect.positions`` (one entry per
performance, key ``<connector>|dip|<production>|<number>``), read back at start-up:
without that, the first reservations call after a restart would publish a snapshot
without ticket lines, which downstream would read as every ticket refunded.

Order of a call: merge -> publish the snapshot (Kafka acks) -> save the parts (Kafka
acks) -> keep them in memory -> answer 2xx. If a step fails the call is answered 503
and memory is untouched, so the client's retry merges the same way.

Only values the contract carries are kept: the receiver refuses a call whose merged
snapshot the contract cannot carry before anything is saved, and a stored value out of
range (written by an older version) is forgotten when read back, with a warning, so it
cannot make every later call for its performance fail.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from bus.log import get_logger
from connectors.sdk.positions import PositionStore
from schemas.models import Identifier, SalesSnapshot, SnapshotLine, TicketType, utcnow

__all__ = ["PERFORMANCE_PREFIX", "Parts", "SnapshotBook", "build_snapshot"]

log = get_logger(__name__)
PERFORMANCE_PREFIX = "dip|"
_INT_MAX, _LONG_MAX = 2**31 - 1, 2**63 - 1
#: ``TicketType(value)`` as a dict lookup (the enum's own call is a Python function).
_TICKET_TYPES = {t.value: t for t in TicketType}


def _pair(value: Any) -> tuple[int, int] | None:
    """``(count, cents)`` from stored JSON, or ``None`` when the contract cannot carry it."""
    try:
        count, cents = value
    except (TypeError, ValueError):
        return None
    if (type(count) is not int or type(cents) is not int or not 0 <= count <= _INT_MAX
            or not 0 <= cents <= _LONG_MAX):
        return None
    return count, cents


@dataclass(frozen=True)
class Parts:
    """What is known of one performance; ``None`` = never reported."""

    lines: dict[str, tuple[int, int]] | None = None  # ticket type -> (tickets, cents)
    reservations: tuple[int, int] | None = None  # (seats, value cents)
    blocked: tuple[int, int] | None = None  # (seats, value cents)
    capacity: int | None = None

    def with_body(self, part: str, body: Any) -> Parts:
        """These parts with the part a call carried replaced."""
        if part == "tickets":
            return replace(self, lines=body.lines())
        if part == "reservations":
            return replace(self, reservations=(body.reservations, body.value))
        if part == "blocked-seats":
            return replace(self, blocked=(body.blocked_seats, body.value))
        if part == "capacity":
            return replace(self, capacity=body.capacity)
        raise ValueError(f"unknown part {part!r}")

    def to_json(self) -> dict[str, Any]:
        return {"lines": {k: list(v) for k, v in self.lines.items()} if self.lines is not None else None,
                "reservations": list(self.reservations) if self.reservations else None,
                "blocked": list(self.blocked) if self.blocked else None,
                "capacity": self.capacity}

    def totals(self) -> tuple[int, int]:
        """Seats held (tickets of every type, reservations, blocked seats) and their cents."""
        pairs = [*(self.lines or {}).values(), self.reservations or (0, 0), self.blocked or (0, 0)]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "") -> Parts:
        """Parts as stored; a value the contract cannot carry is dropped (unknown), logged."""
        dropped: list[str] = []

        def pair(name: str, value: Any) -> tuple[int, int] | None:
            out = _pair(value)
            if value is not None and out is None:
                dropped.append(name)
            return out

        raw_lines = data.get("lines")
        lines: dict[str, tuple[int, int]] | None = None
        if isinstance(raw_lines, dict):
            known = {t.value for t in TicketType}
            lines = {}
            for tt, value in raw_lines.items():
                line = pair(f"lines.{tt}", value) if tt in known else None
                if line is not None:
                    lines[tt] = line
                elif tt not in known:
                    dropped.append(f"lines.{tt}")
        elif raw_lines is not None:
            dropped.append("lines")
        capacity = data.get("capacity")
        if capacity is not None and (type(capacity) is not int or not 0 <= capacity <= _INT_MAX):
            dropped.append("capacity")
            capacity = None
        parts = cls(lines=lines, reservations=pair("reservations", data.get("reservations")),
                    blocked=pair("blocked", data.get("blocked")), capacity=capacity)
        if dropped:
            log.warning("stored dip parts out of the contract's range forgotten",
                        extra={"performance": where, "fields": sorted(set(dropped))})
        return parts


def build_snapshot(dip: Identifier, parts: Parts, *, fact_id: str, event_time: datetime,
                   account: str, currency: str = "EUR") -> SalesSnapshot:
    """The SalesSnapshot of a performance's parts (every ticket type once tickets are known)."""
    lines = [SnapshotLine(ticket_type=_TICKET_TYPES[tt], tickets=t, revenue_cents=c)
             for tt, (t, c) in (parts.lines or {}).items()]
    res = parts.reservations or (0, 0)
    blk = parts.blocked or (0, 0)
    return SalesSnapshot(
        fact_id=fact_id, event_time=event_time, ingested_at=utcnow(), source_system="dip",
        source_account=account, performance_key=dip.key, identifiers=[dip], lines=lines,
        reservations=res[0], reservations_value_cents=res[1], blocked_seats=blk[0],
        blocked_value_cents=blk[1], capacity=parts.capacity, currency=currency)


class SnapshotBook:
    """Lifecycle: ``load()`` once before serving (retried on each call until it worked);
    ``lock(key)`` around merge/publish/``save`` of one performance (``alock(key)`` and
    ``save_async`` on an event loop).

    Args:
        positions: the connector's position store; ``None`` keeps parts in memory only.
        load_timeout_s: how long reading the stored parts may take.

    """

    def __init__(self, positions: PositionStore | None, load_timeout_s: float = 10.0) -> None:
        self._positions = positions
        self._timeout = load_timeout_s
        self._parts: dict[str, Parts] = {}
        self._loaded = positions is None
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._alocks: dict[str, asyncio.Lock] = {}

    def load(self) -> None:
        """Read every stored performance's parts.

        Raises:
            RetriableError: Kafka could not be read.

        """
        if self._loaded or self._positions is None:
            return
        with self._guard:
            if self._loaded:
                return
            stored = self._positions.load_all(timeout=self._timeout)
            for part, value in stored.items():
                if part.startswith(PERFORMANCE_PREFIX) and isinstance(value, dict):
                    self._parts.setdefault(part, Parts.from_json(value, part))
            self._loaded = True

    @property
    def loaded(self) -> bool:
        return self._loaded

    def lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def alock(self, key: str) -> asyncio.Lock:
        """The performance's lock for callers on one event loop."""
        lock = self._alocks.get(key)
        if lock is None:
            lock = self._alocks[key] = asyncio.Lock()
        return lock

    def get(self, key: str) -> Parts:
        self.load()
        return self._parts.get(key, Parts())

    def save(self, key: str, parts: Parts) -> None:
        """Store durably (waits for Kafka's ack), then in memory.

        Raises:
            RetriableError: not acknowledged; nothing changed in memory.

        """
        if self._positions is not None:
            self._positions.save(key, parts.to_json())
        self._parts[key] = parts

    async def save_async(self, key: str, parts: Parts) -> None:
        """``save`` for an event loop (awaits Kafka's ack)."""
        if self._positions is not None:
            await self._positions.save_async(key, parts.to_json())
        self._parts[key] = parts

    def known(self) -> int:
        return len(self._parts)

"""The local view: latest availability and last-minute offers per performance, built
from the compacted topics, plus a bounded ring of recent changes for SSE resume.

Thread-safe: the loader thread applies records while HTTP handlers read. Every change
gets the next number of one sequence; the sequence starts at the process start time in
milliseconds times 1000, so ids grow across restarts and a Last-Event-ID from an earlier
process is older than the ring (the client is told to refetch).

Perf notes (``python -m bench.gateway_memory``, 100,000 performances): each entry keeps
its document as compressed UTF-8 JSON text (:mod:`sinks.gateway.packing`) and its filter
fields as shared casefolded strings; a response decodes the few documents it returns.
The view went from ~3.3 KB to ~0.6 KB a performance (tracemalloc, with the production
index); the gateway's peak RSS from 532 MB to ~195-200 MB, of which ~70 MB is the
process before any record. Applying a decoded record costs ~30 us, was ~37 (orjson
instead of json pays for the compression).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sinks.gateway.packing import dumps, loads, pack, unpack
from sinks.gateway.productions import ProductionIndex
from sinks.gateway.shapes import LOCAL_TZ, availability_doc, iso_utc, offer_doc, to_ms

__all__ = [
    "AvailabilityQuery",
    "Change",
    "Entry",
    "LastMinuteQuery",
    "Outcome",
    "Production",
    "Resume",
    "View",
]

AVAILABILITY_EVENTS = frozenset({"availability", "availability-withdrawn"})
LASTMINUTE_EVENTS = frozenset({"lastminute", "lastminute-withdrawn"})


class Outcome(StrEnum):
    """What applying one record did."""

    APPLIED = "applied"
    TOMBSTONE = "tombstone"
    STALE = "stale"


@dataclass(frozen=True, slots=True)
class Change:
    """One change of the view, as SSE sends it.

    Attributes:
        seq: position in the gateway's sequence (the SSE ``id``).
        event: ``availability``, ``availability-withdrawn``, ``lastminute`` or
            ``lastminute-withdrawn``.
        performance_id: canonical performance id (the Kafka key).
        region: the performance's region (for stream filters), if known.
        updated_at_ms: the record's ``updated_at`` (a tombstone: its Kafka timestamp).
        data: the JSON text of the event.

    """

    seq: int
    event: str
    performance_id: str
    region: str | None
    updated_at_ms: int | None
    data: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One performance in the view: its JSON document, kept as compressed UTF-8 JSON text
    (:mod:`sinks.gateway.packing`; the doc as a dict of fresh strings cost ~3 KB a
    performance, the text ~0.7 KB, compressed ~0.2 KB), and the fields filters read (text
    fields casefolded and shared between performances)."""

    performance_id: str
    data: bytes
    start: datetime | None
    status: str
    region: str
    city: str
    genre: str
    remaining: int | None
    version: int

    @property
    def doc(self) -> dict[str, Any]:
        """The JSON document (decompressed and decoded on every call: responses only)."""
        return loads(unpack(self.data))  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class AvailabilityQuery:
    """Filters of ``GET /v1/availability`` (text filters compare case-insensitively)."""

    statuses: frozenset[str] | None = None
    region: str | None = None
    city: str | None = None
    genre: str | None = None
    start_from: datetime | None = None
    start_to: datetime | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class LastMinuteQuery:
    """Filters of ``GET /v1/lastminute``; offers that started before ``now`` are left out."""

    region: str | None = None
    city: str | None = None
    genre: str | None = None
    days: frozenset[date] | None = None
    min_remaining: int | None = None
    limit: int = 100
    now: datetime | None = None


@dataclass(frozen=True, slots=True)
class Production:
    """The performances of one production (``View.production``).

    Attributes:
        production_ids: every production key found, following shared keys.
        items: availability documents of the performances, sorted by start.
        total: how many performances in all (``items`` stops at the limit).
        seq: the view's position.

    """

    production_ids: list[str]
    items: list[dict[str, Any]]
    total: int
    seq: int


@dataclass(frozen=True, slots=True)
class Resume:
    """Where an SSE stream starts.

    Attributes:
        position: the last sequence number the client is considered to have.
        replay: changes after the client's Last-Event-ID, oldest first.
        reset: the Last-Event-ID is older than the ring (or unknown): refetch.

    """

    position: int
    replay: list[Change]
    reset: bool


#: the few distinct statuses, regions, cities and genres: one string each for every entry
_NAMES: dict[str, str] = {}


def _key(value: str | None) -> str:
    return (value or "").casefold()


def _name(value: str) -> str:
    return _NAMES.setdefault(value, value)


def _entry(pid: str, doc: dict[str, Any], text: bytes, rec: Mapping[str, Any]) -> Entry:
    start = rec.get("start")
    return Entry(pid, pack(text), start if isinstance(start, datetime) else None,
                 _name(str(doc.get("status"))), _name(_key(doc.get("region"))),
                 _name(_key(doc.get("city"))), _name(_key(doc.get("genre"))),
                 doc.get("remaining"), int(rec.get("version") or 0))


def _order(entry: Entry) -> tuple[bool, datetime, str]:
    return (entry.start is None, entry.start or datetime.max.replace(tzinfo=UTC), entry.performance_id)


def _text_match(entry: Entry, region: str | None, city: str | None, genre: str | None) -> bool:
    return ((region is None or entry.region == _key(region))
            and (city is None or entry.city == _key(city))
            and (genre is None or entry.genre == _key(genre)))


class View:
    """Latest availability and offers per performance, and recent changes.

    Args:
        ring_size: changes kept for SSE resume (``settings.gateway.sse_buffer``).
        seq_base: first sequence number minus one; default: now in ms times 1000.

    """

    def __init__(self, ring_size: int, seq_base: int | None = None) -> None:
        self._lock = threading.Lock()
        self._availability: dict[str, Entry] = {}
        self._productions = ProductionIndex()
        self._lastminute: dict[str, Entry] = {}
        self._ring: deque[Change] = deque(maxlen=ring_size)
        self._seq = seq_base if seq_base is not None else time.time_ns() // 1_000_000 * 1000

    # -- writing (loader thread) --------------------------------------------------------

    def _append(self, event: str, pid: str, region: str | None, updated_ms: int | None,
                data: str) -> Change:
        self._seq += 1
        change = Change(self._seq, event, pid, region, updated_ms, data)
        self._ring.append(change)
        return change

    def apply_availability(self, key: str, rec: Mapping[str, Any] | None,
                           ts_ms: int | None = None) -> tuple[Outcome, Change | None]:
        """Apply one record of ``participation.availability`` (None: a tombstone).

        A copy with a lower ``version`` than the one held is stale and ignored.
        """
        with self._lock:
            if rec is None:
                old = self._availability.pop(key, None)
                self._productions.remove(key)
                if old is None:
                    return Outcome.TOMBSTONE, None
                payload = {"performance_id": key, "withdrawn": True, "withdrawn_at": iso_utc(ts_ms)}
                return Outcome.TOMBSTONE, self._append("availability-withdrawn", key,
                                                       old.doc.get("region"), ts_ms,
                                                       dumps(payload).decode())
            held = self._availability.get(key)
            if held is not None and int(rec.get("version") or 0) < held.version:
                return Outcome.STALE, None
            doc = availability_doc(rec)
            text = dumps(doc)
            self._availability[key] = _entry(key, doc, text, rec)
            self._productions.put(key, rec.get("production_keys") or ())
            return Outcome.APPLIED, self._append("availability", key, doc["region"],
                                                 to_ms(rec.get("updated_at")), text.decode())

    def apply_lastminute(self, key: str, rec: Mapping[str, Any] | None,
                         ts_ms: int | None = None) -> tuple[Outcome, Change | None]:
        """Apply one record of ``participation.lastminute`` (None: the offer is withdrawn)."""
        with self._lock:
            if rec is None:
                old = self._lastminute.pop(key, None)
                if old is None:
                    return Outcome.TOMBSTONE, None
                region = old.doc.get("region")
                payload = {"performance_id": key, "region": region, "withdrawn_at": iso_utc(ts_ms)}
                return Outcome.TOMBSTONE, self._append("lastminute-withdrawn", key, region, ts_ms,
                                                       dumps(payload).decode())
            doc = offer_doc(rec)
            text = dumps(doc)
            self._lastminute[key] = _entry(key, doc, text, rec)
            return Outcome.APPLIED, self._append("lastminute", key, doc["region"],
                                                 to_ms(rec.get("updated_at")), text.decode())

    # -- reading (HTTP handlers) --------------------------------------------------------

    @property
    def last_seq(self) -> int:
        with self._lock:
            return self._seq

    def sizes(self) -> dict[str, int]:
        with self._lock:
            return {"availability": len(self._availability), "lastminute": len(self._lastminute)}

    def availability(self, performance_id: str) -> tuple[dict[str, Any] | None, int]:
        """The availability document of one performance (None if unknown) and the position."""
        with self._lock:
            entry = self._availability.get(performance_id)
            seq = self._seq
        return (None if entry is None else entry.doc), seq

    def query_availability(self, q: AvailabilityQuery) -> tuple[list[dict[str, Any]], int, int]:
        """Matching documents sorted by start, how many matched in all, and the position."""
        with self._lock:
            entries = [e for e in self._availability.values()
                       if (q.statuses is None or e.status in q.statuses)
                       and _text_match(e, q.region, q.city, q.genre)
                       and (q.start_from is None or (e.start is not None and e.start >= q.start_from))
                       and (q.start_to is None or (e.start is not None and e.start < q.start_to))]
            seq = self._seq
        return [e.doc for e in heapq.nsmallest(q.limit, entries, key=_order)], len(entries), seq

    def production(self, production_id: str, limit: int) -> Production | None:
        """Every performance of the production ``production_id`` names (a production key, a
        DIP production id, a UiT production or event uuid), following shared keys; None
        when no performance names it."""
        with self._lock:
            keys, pids = self._productions.related(production_id)
            entries = [self._availability[p] for p in pids if p in self._availability]
            seq = self._seq
        if not keys:
            return None
        return Production(keys, [e.doc for e in heapq.nsmallest(limit, entries, key=_order)],
                          len(entries), seq)

    def query_lastminute(self, q: LastMinuteQuery) -> tuple[list[dict[str, Any]], int, int]:
        """Offers that have not started, matching, sorted by start; total matched; position."""
        now = q.now or datetime.now(UTC)
        with self._lock:
            entries = [e for e in self._lastminute.values()
                       if e.start is not None and e.start >= now
                       and _text_match(e, q.region, q.city, q.genre)
                       and (q.days is None or e.start.astimezone(LOCAL_TZ).date() in q.days)
                       and (q.min_remaining is None
                            or (e.remaining is not None and e.remaining >= q.min_remaining))]
            seq = self._seq
        return [e.doc for e in heapq.nsmallest(q.limit, entries, key=_order)], len(entries), seq

    def resume(self, last_event_id: int | None) -> Resume:
        """Where a stream starts for a client that last saw ``last_event_id`` (None: now)."""
        with self._lock:
            last = self._seq
            if last_event_id is None or last_event_id == last:
                return Resume(last, [], False)
            first = self._ring[0].seq if self._ring else last + 1
            if last_event_id > last or last_event_id < first - 1:
                return Resume(last, [], True)
            # Sequence numbers in the ring are contiguous: index by difference.
            replay = list(itertools.islice(self._ring, last_event_id - first + 1, None))
            return Resume(last, replay, False)

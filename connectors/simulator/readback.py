"""Reading a simulated season back from Kafka and checking it against the truth.

``observe`` reads every record of the fact topics and their dead-letter twins (to the
end as of the call). ``recompute`` derives, per canonical performance, what the truth
states, the way a consumer would: a crosswalk from the calendar facts' identifiers
(each calendar fact's identifier keys all map to its best key, dip > uit > vendor >
others; given the truth, what it knows each description and vendor id to be: a
real-rules season shares no id between descriptions), ticket facts deduplicated by fact
id and summed, the newest snapshot per
source (sources that send snapshots are counted by them only), the newest calendar
fact's capacity and status. ``compare`` lists every difference; ``privacy_leaks``
every raw personal value of the buyer pool found anywhere in what was read.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import ahocorasick

from bus.serde import AvroDeserializer, Registry
from bus.settings import Settings
from bus.topics import PERFORMANCES, SNAPSHOTS, TICKET_EVENTS, dlq_of
from connectors.fakes.calendars import read_back
from connectors.simulator.model import Season
from connectors.simulator.realism import ref_of

__all__ = ["Observed", "best_key", "compare", "crosswalk", "observe", "privacy_leaks", "recompute",
           "truth_links"]

FACT_TOPICS = (TICKET_EVENTS, SNAPSHOTS, PERFORMANCES)
_SIGN = {"SOLD": ("sold", 1), "CANCELLED": ("sold", -1), "REFUNDED": ("sold", -1),
         "RESERVED": ("reserved", 1), "RESERVATION_RELEASED": ("reserved", -1),
         "BLOCKED": ("blocked", 1), "UNBLOCKED": ("blocked", -1), "SCANNED": ("scanned", 1)}
_TYPES = ("NORMAL", "DISCOUNT", "FREE", "OTHER")


@dataclass
class Observed:
    """What the topics hold: decoded facts per topic and every raw byte string read."""

    facts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    raw: list[bytes] = field(default_factory=list)
    dead_letters: dict[str, int] = field(default_factory=dict)

    def distinct(self, topic: str) -> int:
        return len({f["fact_id"] for f in self.facts.get(topic, [])})


def observe(settings: Settings, timeout_s: float = 120.0) -> Observed:
    """Read the fact topics and their DLQs of ``settings.topic_prefix`` to their end."""
    decode = AvroDeserializer(Registry(settings.registry))
    out = Observed()
    for topic in FACT_TOPICS:
        records = read_back(settings, topic, timeout_s=timeout_s)
        out.facts[topic] = [decode(r.value) for r in records if r.value is not None]  # type: ignore[misc]
        out.raw.extend(r.value for r in records if r.value is not None)
        out.raw.extend((r.key or "").encode() for r in records)
        letters = read_back(settings, dlq_of(topic), timeout_s=timeout_s)
        out.dead_letters[topic] = len(letters)
        for r in letters:
            out.raw.append(r.value or b"")
            out.raw.extend(f"{k}={v}".encode() for k, v in r.headers.items())
    return out


def _rank(key: str) -> tuple[int, str]:
    ns = key.split("|", 1)[0]
    return (0 if ns == "dip" else 1 if ns == "uit" else 2 if ns.startswith("vendor:") else 3), key


def best_key(keys: list[str]) -> str:
    return min(keys, key=_rank)


def _keys(fact: dict[str, Any]) -> list[str]:
    keys = [fact["performance_key"]]
    keys += [f"{i['namespace']}|{i['value']}" for i in fact.get("identifiers") or []]
    return keys


def crosswalk(performances: list[dict[str, Any]]) -> dict[str, str]:
    """Identifier key -> canonical id, from calendar facts."""
    links: dict[str, str] = {}
    for fact in performances:
        keys = _keys(fact)
        canonical = best_key(keys + [links[k] for k in keys if k in links])
        for k in keys:
            links[k] = best_key([canonical, links.get(k, canonical)])
    return links


def truth_links(truth: dict[str, Any], performances: list[dict[str, Any]]) -> dict[str, str]:
    """Identifier key -> canonical id, from the ground truth: every key a calendar fact
    carries belongs to the performance its description is (``realism.ref_of``), and every
    identifier the truth names (the vendor's own id) to its performance. In a real-rules
    season descriptions share no id: joining them is the streams worker's job (checked by
    the streams acceptance test); this checks what the connectors delivered per performance."""
    owner = {ref: cid for cid, p in truth["performances"].items()
             for ref in (p.get("descriptions") or {}).values()}
    links: dict[str, str] = {}
    for fact in performances:
        cid = owner.get(ref_of(fact))
        if cid is not None:
            links.update(dict.fromkeys(_keys(fact), cid))
    for cid, p in truth["performances"].items():
        links.update(dict.fromkeys(p["identifiers"], cid))
    return links


def _resolve(fact: dict[str, Any], links: dict[str, str]) -> str | None:
    found = [links[k] for k in _keys(fact) if k in links]
    return best_key(found) if found else None


def recompute(observed: Observed, truth: dict[str, Any] | None = None
              ) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Per canonical id the numbers the truth states; and the fact ids left unresolved.

    Facts are tied to performances by the identifiers they share (``crosswalk``), or, given
    the ``truth``, by what the truth knows each description and vendor id to be
    (``truth_links``)."""
    perfs = observed.facts.get(PERFORMANCES, [])
    links = crosswalk(perfs) if truth is None else truth_links(truth, perfs)
    out: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "sold": 0, "refunded": 0, "reserved": 0, "blocked": 0, "scanned": 0,
        "tickets": dict.fromkeys(_TYPES, 0), "revenue_cents": dict.fromkeys(_TYPES, 0)})
    unresolved: list[str] = []
    seen: set[str] = set()
    snap_sources: set[tuple[str, str]] = set()
    snaps: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for s in observed.facts.get(SNAPSHOTS, []):
        cid = _resolve(s, links)
        if cid is None:
            unresolved.append(s["fact_id"])
            continue
        src = f"{s['source_system']}/{s['source_account']}"
        snap_sources.add((cid, src))
        if s["fact_id"] not in seen:
            seen.add(s["fact_id"])
            snaps[(cid, src)].append(s)
    for e in observed.facts.get(TICKET_EVENTS, []):
        if e["fact_id"] in seen:
            continue
        seen.add(e["fact_id"])
        cid = _resolve(e, links)
        if cid is None:
            unresolved.append(e["fact_id"])
            continue
        if (cid, f"{e['source_system']}/{e['source_account']}") in snap_sources:
            continue
        what, sign = _SIGN[str(e["event_type"])]
        p = out[cid]
        p[what] += sign * e["quantity"]
        if what == "sold":
            tt = str(e["ticket_type"])
            p["tickets"][tt] += sign * e["quantity"]
            p["revenue_cents"][tt] += sign * e["quantity"] * e["price_cents"]
            if sign < 0:
                p["refunded"] += e["quantity"]
    for (cid, _), series in snaps.items():
        series.sort(key=lambda s: s["event_time"])
        p = out[cid]
        prev = 0
        for s in series:
            sold = sum(line["tickets"] for line in s["lines"])
            p["refunded"] += max(prev - sold, 0)
            prev = sold
        last = series[-1]
        p["sold"] += prev
        p["reserved"] += last["reservations"]
        p["blocked"] += last["blocked_seats"]
        for line in last["lines"]:
            p["tickets"][str(line["ticket_type"])] += line["tickets"]
            p["revenue_cents"][str(line["ticket_type"])] += line["revenue_cents"]
    newest: dict[str, dict[str, Any]] = {}
    for perf in perfs:
        cid = links.get(perf["performance_key"])
        if cid is None:
            unresolved.append(perf["fact_id"])
            continue
        held = newest.get(cid)
        if held is None or perf["event_time"] > held["event_time"]:
            newest[cid] = perf
    for cid, perf in newest.items():
        out[cid]["capacity"] = perf["capacity"]
        out[cid]["calendar_status"] = str(perf["status"])
    return dict(out), unresolved


def compare(truth: dict[str, Any], observed: Observed) -> list[str]:
    """Every difference between the truth and what the topics hold (empty: they agree)."""
    problems = []
    for topic, expected in truth["facts"].items():
        distinct = observed.distinct(topic)
        if distinct != expected:
            problems.append(f"{topic}: {distinct} distinct facts, truth expects {expected}")
    for topic, n in observed.dead_letters.items():
        if n:
            problems.append(f"{dlq_of(topic)}: {n} dead letters")
    numbers, unresolved = recompute(observed, truth)
    if unresolved:
        problems.append(f"{len(unresolved)} facts not tied to any calendar performance "
                        f"(first: {unresolved[0]})")
    fields = ("capacity", "calendar_status", "sold", "refunded", "reserved", "blocked", "scanned",
              "tickets", "revenue_cents")
    for cid, want in truth["performances"].items():
        got = numbers.get(cid)
        if got is None:
            problems.append(f"{cid}: nothing on the topics")
            continue
        for f in fields:
            if got.get(f) != want[f]:
                problems.append(f"{cid} ({want['ticketing']}): {f} {got.get(f)!r} != truth "
                                f"{want[f]!r}")
    for cid in set(numbers) - set(truth["performances"]):
        problems.append(f"{cid}: on the topics but not in the truth")
    return problems


def privacy_leaks(observed: Observed, season: Season) -> list[str]:
    """Raw personal values of the buyer pool found in any record read (should be none),
    as ``"<customer id>: <value>"`` in the pool's order.

    One Aho-Corasick pass over every byte read finds all values at once (a search per
    value took two minutes for a 60-performance season: 28,000 values). Bytes are read as
    Latin-1, one character per byte, so a match is a match of the value's UTF-8 bytes.
    """
    def needle(value: str) -> str:
        return value.encode().decode("latin-1")

    finder = ahocorasick.Automaton()
    for c in season.customers:
        for value in c.personal_values():
            finder.add_word(needle(value), needle(value))  # the payload is what was found
    if not len(finder):
        return []
    finder.make_automaton()
    found = {hit for _, hit in finder.iter(b"\n".join(observed.raw).decode("latin-1"))}
    return [f"{c.id}: {value!r}" for c in season.customers
            for value in dict.fromkeys(c.personal_values()) if needle(value) in found]

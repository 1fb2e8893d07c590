"""Venues: which venue ids of different sources (a DIP theater, a UiTdatabank place, a
Ticketmatic location, a schema.org location) are one venue. Pure logic, no Faust: the
``identity-venues`` agent (``streams.identity.venue_agents``) feeds it, one evidence at a
time, and publishes what changed.

Two venue ids are one venue when

- **a performance joins them** (reason ``performance``): two descriptions of one canonical
  performance (linked by identifier, URL, match or a person) name different venue ids.
  The evidence is the performance id (the smallest one, when several join the pair).
- **they match** (reason ``match``): same postcode area (first four digits) and country,
  or, where a venue gives no postcode, the same normalised city and country; and names
  alike by the performance matcher's title rules (``matching.title_score``: case, accents,
  punctuation and the city left out, "Stadsschouwburg Brugge" = "Stadsschouwburg" in
  Brugge). At or above ``link_at`` linked; from ``review_at`` a candidate a person can see
  (``cultuurbus identity venues``); never across two postcode areas or two countries. A
  venue without postcode and city (a Ticketmatic location names only itself) is never
  matched by name: only a performance joins it.

- **a person says so** (reason ``person``; ``cultuurbus identity venue-accept A B``). A
  person can also say two ids are two venues (``venue-reject A B``, a candidate refused)
  or take one id out of its venue (``venue-undo ID``): those pairs are then never joined
  again by a performance or a name, only by a person's ``venue-accept``.

The links form components; a component's canonical id is, deterministically, a DIP
theater id, else a UiTdatabank place id, else the smallest id. Every link is a pair
judged on its own, and a venue's descriptions are kept as a set, so the result does not
depend on the order evidence arrives in: every worker and every replay agree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from streams.identity.matching import _postcode_area, normalise, title_score

__all__ = ["ACTIONS", "LINK_AT", "REVIEW_AT", "VenueCrosswalk", "VenueDecider", "VenueDesc", "canonical_rank"]

LINK_AT = 90.0
REVIEW_AT = 75.0

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def canonical_rank(venue_id: str) -> tuple[int, str]:
    """Sort key of the canonical choice: DIP theater, UiTdatabank place (a bare uuid, as the
    UiTdatabank mapping writes it), then any other id; ties by the id."""
    rank = 0 if venue_id.startswith("dip:theater:") else 1 if _UUID.match(venue_id) else 2
    return rank, venue_id


class VenueDesc(NamedTuple):
    """One description of a venue, as a calendar fact gives it."""

    id: str
    name: str
    city: str | None = None
    postcode: str | None = None
    country: str | None = None  # unknown (a Ticketmatic location): never matched by name

    @classmethod
    def of(cls, venue: dict[str, Any]) -> VenueDesc:
        """From a decoded ``Venue`` record (or the JSON of venue evidence).

        Raises:
            ValueError: no venue id.

        """
        vid = venue.get("id")
        if not isinstance(vid, str) or not vid:
            raise ValueError(f"venue without an id: {str(venue)[:200]}; every Venue carries its source's id")
        return cls(vid, str(venue.get("name") or ""), venue.get("city") or None,
                   venue.get("postcode") or None, venue.get("country") or None)

    def blocks(self) -> Iterator[tuple[str, str, str]]:
        """Where it is compared: its postcode area, and its city, each within its country
        (none without a known country: "never across two countries" could not be told)."""
        if self.country is None:
            return
        if area := _postcode_area(self.postcode):
            yield self.country, "postcode", area
        if city := normalise(self.city):
            yield self.country, "city", city


@dataclass(frozen=True)
class _Edge:
    reason: str  # person | performance | match
    score: float | None
    evidence: str | None  # the performance that joined them, or who decided

    def better_than(self, other: _Edge) -> bool:
        return self._order() < other._order()

    def _order(self) -> tuple[int, float, str]:
        return (_RANK[self.reason], -(self.score or 0.0), self.evidence or "")


_RANK = {"person": 0, "performance": 1, "match": 2}
ACTIONS = ("accept", "reject", "undo")


def _name_score(a: VenueDesc, b: VenueDesc) -> float | None:
    """The name score of two descriptions that may be one venue, None when they may not."""
    if a.country is None or a.country != b.country:
        return None
    pa, pb = _postcode_area(a.postcode), _postcode_area(b.postcode)
    if pa and pb and pa != pb:
        return None
    if not (pa and pa == pb) and not (normalise(a.city) and normalise(a.city) == normalise(b.city)):
        return None
    return max(title_score(a.name, a.city, b.name, b.city), title_score(b.name, b.city, a.name, a.city))


class VenueDecider:
    """Every venue seen, the links between them, and the canonical venue of each.

    Args:
        link_at: name score from which two venues in one block are linked.
        review_at: name score from which they are a candidate for a person.

    """

    def __init__(self, *, link_at: float = LINK_AT, review_at: float = REVIEW_AT) -> None:
        if not 0 <= review_at <= link_at <= 100:
            raise ValueError(f"venue thresholds must satisfy 0 <= review_at ({review_at}) <= link_at "
                             f"({link_at}) <= 100")
        self.link_at = link_at
        self.review_at = review_at
        self.descs: dict[str, set[VenueDesc]] = {}
        self.blocks: dict[tuple[str, str, str], set[str]] = {}
        self.hosts: dict[str, tuple[str, ...]] = {}  # canonical performance -> venue ids (mostly one)
        self.edges: dict[str, dict[str, _Edge]] = {}
        self.candidates: dict[str, dict[str, float]] = {}
        #: pairs a person said are two venues: no performance or name joins them again
        self.refused: set[frozenset[str]] = set()

    def __len__(self) -> int:
        return len(self.descs)

    def describe(self, desc: VenueDesc) -> set[str]:
        """A venue as a calendar describes it; returns the venue ids whose entry may have changed."""
        known = self.descs.setdefault(desc.id, set())
        if desc in known:
            return set()
        known.add(desc)
        touched = {desc.id}
        for block in desc.blocks():
            members = self.blocks.setdefault(block, set())
            for other in sorted(members - {desc.id}):
                scores = [s for d in self.descs[other] if (s := _name_score(desc, d)) is not None]
                score = max(scores, default=None)
                if score is None:
                    continue
                if score >= self.link_at:
                    touched |= self._join(desc.id, other, _Edge("match", round(score, 2), None))
                elif score >= self.review_at and frozenset((desc.id, other)) not in self.refused:
                    for a, b in ((desc.id, other), (other, desc.id)):
                        mine = self.candidates.setdefault(a, {})
                        mine[b] = max(mine.get(b, 0.0), round(score, 2))
                    touched |= {other}
            members.add(desc.id)
        return touched

    def host(self, performance: str, venue_id: str) -> set[str]:
        """A description of ``performance`` names ``venue_id``: every other venue named by
        a description of it is the same venue. Returns the venue ids whose entry may have changed."""
        self.descs.setdefault(venue_id, set())
        venues = self.hosts.get(performance, ())
        touched: set[str] = set()
        for other in sorted(set(venues) - {venue_id}):
            touched |= self._join(venue_id, other, _Edge("performance", None, performance))
        if venue_id not in venues:
            self.hosts[performance] = (*venues, venue_id)
        return touched

    def decide(self, action: str, a: str, b: str | None, by: str) -> tuple[set[str], list[tuple[str, str]]]:
        """A person's decision: ``accept`` (``a`` and ``b`` are one venue), ``reject`` (two
        venues: a candidate refused, a link between them removed) or ``undo`` (``a`` taken
        out of its venue: refused with every id it is linked to). Returns the venue ids
        whose entry may have changed and the pairs now refused or accepted (to keep).

        Raises:
            ValueError: an unknown action, or ``b`` missing or equal to ``a`` where needed.

        """
        if action not in ACTIONS:
            raise ValueError(f"venue decision {action!r} is not one of {', '.join(ACTIONS)}")
        if action != "undo" and (not b or b == a):
            raise ValueError(f"venue {action} needs two different venue ids, got {a!r} and {b!r}")
        self.descs.setdefault(a, set())
        touched = set(self.component(a))
        if action == "accept":
            assert b is not None
            self.descs.setdefault(b, set())
            self.refused.discard(frozenset((a, b)))
            return touched | self._join(a, b, _Edge("person", None, by)), [(a, b)]
        others = [b] if action == "reject" and b is not None else sorted(self.edges.get(a, {}))
        for other in others:
            touched |= self.component(other)
            self.refused.add(frozenset((a, other)))
            self.edges.get(a, {}).pop(other, None)
            self.edges.get(other, {}).pop(a, None)
            self.candidates.get(a, {}).pop(other, None)
            self.candidates.get(other, {}).pop(a, None)
        return touched, [(a, other) for other in others]

    def _join(self, a: str, b: str, edge: _Edge) -> set[str]:
        if edge.reason != "person" and frozenset((a, b)) in self.refused:
            return set()
        old = self.edges.get(a, {}).get(b)
        if old is not None and not edge.better_than(old):
            return set()
        self.edges.setdefault(a, {})[b] = edge
        self.edges.setdefault(b, {})[a] = edge
        return self.component(a)

    def component(self, venue_id: str) -> set[str]:
        """Every venue id linked to ``venue_id``, itself included."""
        seen = {venue_id}
        todo = [venue_id]
        while todo:
            for other in self.edges.get(todo.pop(), {}):
                if other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    def canonical(self, venue_id: str) -> str:
        return min(self.component(venue_id), key=canonical_rank)

    def entry(self, venue_id: str) -> dict[str, Any]:
        """The venue's crosswalk entry (``venue_link.avsc`` without ``updated_at``)."""
        group = self.component(venue_id)
        canonical = min(group, key=canonical_rank)
        reason, score, evidence, via = "founded", None, None, None
        if venue_id != canonical:
            best = min(self.edges[venue_id].items(), key=lambda kv: (kv[1]._order(), canonical_rank(kv[0])))
            via, edge = best
            reason, score, evidence = edge.reason, edge.score, edge.evidence
        desc = min(self.descs.get(venue_id) or {VenueDesc(venue_id, venue_id)},
                   key=lambda d: tuple(x or "" for x in d))
        open_ = [(s, o) for o, s in self.candidates.get(venue_id, {}).items() if o not in group]
        cand = min(open_, key=lambda so: (-so[0], so[1])) if open_ else None
        return {"venue_id": venue_id, "canonical_id": canonical, "reason": reason, "score": score,
                "evidence": evidence, "via": via, "name": desc.name or venue_id, "city": desc.city,
                "postcode": desc.postcode, "country": desc.country,
                "candidate_id": cand[1] if cand else None, "candidate_score": cand[0] if cand else None}

    def entries(self, venue_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        return {v: self.entry(v) for v in sorted(self.descs if venue_ids is None else venue_ids)}


class VenueCrosswalk:
    """Every worker's view of the venue topic: venue id -> canonical venue id."""

    def __init__(self) -> None:
        self._canonical: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._canonical)

    def put(self, venue_id: str, canonical_id: str) -> None:
        self._canonical[venue_id] = canonical_id

    def canonical(self, venue_id: str) -> str:
        """The canonical venue id (a venue id without a link is its own)."""
        return self._canonical.get(venue_id, venue_id)

    def same(self, a: str, b: str) -> bool:
        """Whether two venue ids are one venue (the matcher's ``same_venue``)."""
        return a == b or self.canonical(a) == self.canonical(b)

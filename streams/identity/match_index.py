"""The match desk's index in memory (``streams.identity.match_domain``): per local day,
its descriptions by performance key, which key is whose, the PENDING candidates and the
day's matcher. Rebuilt from the desk's table after a rebalance; the calendar facts'
bytes stay in the table only, so the index holds what matching needs and no more (about
100,000 performances are indexed by a worker at once in ``bench.worker_memory``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from streams.codec import shared
from streams.identity.matching import Description, Matcher

__all__ = ["Day", "Indexed", "candidate_description"]


def candidate_description(d: Description) -> dict[str, Any]:
    """A description as a review candidate's JSON says it."""
    return {"keys": list(d.keys), "source": d.source, "title": d.title, "start": d.start_ms,
            "venue_name": d.venue_name, "venue_city": d.venue_city, "venue_postcode": d.venue_postcode,
            "venue_id": d.venue_id}


class Indexed(NamedTuple):
    """A ``d|`` entry of the table, without its calendar fact's bytes (``f``)."""

    d: Description
    c: str  # canonical performance id
    r: str  # link reason
    k: str  # fact kind
    t: str | None  # tenant

    @classmethod
    def of(cls, entry: dict[str, Any]) -> Indexed:
        return cls(Description.from_json(entry["d"]), shared(entry["c"]), shared(entry["r"]),
                   shared(entry["k"]), shared(entry.get("t")))


@dataclass
class Day:
    """What the index knows of one day: descriptions by performance key, which key is
    whose, the PENDING candidates by key, and the day's matcher (built when needed)."""

    entries: dict[str, Indexed] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)
    matcher: Matcher | None = None

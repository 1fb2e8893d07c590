"""Matching: which known performance a calendar description without a shared identifier
describes, if any. Pure logic, no Faust: the ``identity-match`` agent
(``streams.identity.match_agents``) feeds it one local day at a time.

Rules, in order (a rule that blocks a pair is never outweighed by a score):

- **Never the same source.** Two descriptions from one ``source_system/source_account``
  are two performances by that source's own word (a vendor lists each show once).
- **Never two identifiers of one namespace with different values.** Two ``uit|...`` ids
  (or two DIP numbers, or two event ids of one vendor account) are two performances by
  the calendar's own word. Checked against every description already linked to the
  candidate performance, not only the first.
- **Never two postcode areas.** Two descriptions whose venues have different postcodes
  (first four digits) are in two buildings: a production that tours plays in Haarlem
  and in Genk at the same hour under the same title.
- **Block by start time.** Only descriptions whose starts are at most
  ``start_tolerance_s`` apart are compared. Default 45 minutes: sources differ by door
  time vs curtain time (NL/BE theatres open the hall 30-45 min before "aanvang") and by
  rounding (20:15 vs 20:00), while two shows of one hall on one day are at least the
  length of a show plus a changeover apart (a matinee and the evening show are hours
  apart; double bills of short youth shows about 90 minutes). So a matinee is never
  matched with the evening show of the same day, whatever their titles.
- **Score** 0..100 = 0.70 title + 0.25 venue + 0.05 start:
  - title: rapidfuzz ``token_set_ratio`` on normalised titles (case, accents and
    punctuation removed, the venue's city taken out: "vlinders in de buik - BRUGGE").
    A part that only says what kind of show it is ("Voorstelling: Ode aan de Polder",
    "Première | ...") is left out too. Sources also put a company before or after the
    title with a separator ("Toneelgroep Maastricht: Het Zwanenmeer" vs "Het Zwanenmeer -
    NTGent"): each part of at least four letters is compared too, but the best
    part-to-part score counts at ``_PART_WEIGHT``, so that a match on a part alone goes
    to a person, never links by itself (the shared part may be the company: "Hamlet -
    Toneelhuis" and "Macbeth - Toneelhuis" in two halls of one building). Sources add or
    drop subtitles, the company or the author ("De Kersentuin" vs "De Kersentuin -
    Tsjechov / NTGent"): the token-set ratio scores a title contained in the other as
    100, and word order does not matter.
    ``WRatio`` mixes partial ratios whose weights are tuned for other uses and scores
    short common words in long titles highly; the token set is easier to explain.
  - venue: 100 for a shared venue id (or ids known to be one venue); 0 when both give
    a postcode area and they differ, or two cities without one postcode (UiTdatabank
    writes a city per language: "Brussel" and "Bruxelles" share 1000); else the name
    similarity raised to 95 for the same postcode area, 85 for the same city, 75 (neutral) without evidence
    either way: vendors often name only the hall ("Grote Zaal") and no address.
  - start: 100 up to 5 minutes apart, falling linearly to 50 at the tolerance.
- **Thresholds**: ``link_at`` (default 90) and above links automatically; from
  ``review_at`` (default 75) a person decides; below, the description is a new
  performance. Same title and hall-only venue at the same time scores 93.75 (linked);
  same title in another city 75 (review); a different title in the same hall at the
  same time stays below 75 (a new performance).

Scores are symmetric: ``score(a, b) == score(b, a)``.
"""

from __future__ import annotations

import bisect
import operator
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from rapidfuzz import fuzz

from streams.codec import shared

__all__ = ["LINK_AT", "REVIEW_AT", "START_TOLERANCE_S", "Decision", "Description", "Matcher",
           "description_of", "namespace_of", "normalise", "title_forms", "title_score"]

LINK_AT = 90.0
REVIEW_AT = 75.0
START_TOLERANCE_S = 45 * 60

_TITLE_W, _VENUE_W, _START_W = 0.70, 0.25, 0.05
_VENUE_NEUTRAL, _SAME_CITY, _SAME_POSTCODE = 75.0, 85.0, 95.0
_EXACT_S = 5 * 60

_PUNCT = re.compile(r"[^\w]+", re.UNICODE)
#: Where sources join a title with a company, a kind or a city.
_SEPARATOR = re.compile(r"\s+[-\u2013\u2014|/]\s+|\s*\|\s*|:\s+")
_PART_WEIGHT = 0.85
_MIN_PART = 4
#: Parts that name the kind of show or the occasion, not the show.
_KIND_ONLY = frozenset({"voorstelling", "extra voorstelling", "familievoorstelling", "concert", "premiere",
                        "try out", "tryout", "avant premiere", "reprise", "uitverkocht", "nieuw",
                        "spectacle", "theater", "theatre", "dans", "muziek"})


@lru_cache(maxsize=65536)
def normalise(text: str | None) -> str:
    """Lower case, no accents, punctuation as spaces, single spaces: ``"Ça, c'est!"`` -> ``"ca c est"``."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(_PUNCT.sub(" ", plain).replace("_", " ").split())


@lru_cache(maxsize=65536)
def title_forms(title: str, city: str | None = None) -> tuple[str, ...]:
    """The normalised title without the venue's city, then its separated parts (at least
    ``_MIN_PART`` letters each), parts that only name the kind of show left out:
    ``("Voorstelling: Orfeo | Kortrijk", "Kortrijk")`` -> ``("orfeo",)``;
    ``("Orfeo - Opera Vlaanderen", None)`` -> ``("orfeo opera vlaanderen", "orfeo",
    "opera vlaanderen")``."""
    place = normalise(city)

    def clean(text: str) -> str:
        words = f" {normalise(text)} "
        if place:
            words = words.replace(f" {place} ", " ")
        return " ".join(words.split())

    parts = [p for p in (clean(part) for part in _SEPARATOR.split(title)) if p]
    shows = [p for p in parts if p not in _KIND_ONLY] or parts
    forms = [" ".join(shows)]
    if len(shows) > 1:
        forms += [p for p in shows if len(p) >= _MIN_PART and p != forms[0]]
    return tuple(f for f in forms if f)


def title_score(a: str, a_city: str | None, b: str, b_city: str | None) -> float:
    """0..100: the whole titles' token-set ratio, or the best of their parts' (weighted)."""
    fa, fb = title_forms(a, a_city), title_forms(b, b_city)
    if not fa or not fb:
        return 0.0
    best = float(fuzz.token_set_ratio(fa[0], fb[0]))
    if best < 100 and (len(fa) > 1 or len(fb) > 1):
        for x in fa:
            for y in fb:
                if x is not fa[0] or y is not fb[0]:
                    best = max(best, _PART_WEIGHT * fuzz.token_set_ratio(x, y))
    return best


def _postcode_area(postcode: str | None) -> str:
    """``"1017 AB"`` -> ``"1017"``; a Belgian ``"3000"`` stays."""
    digits = re.match(r"\s*(\d{4})", postcode or "")
    return digits.group(1) if digits else normalise(postcode).replace(" ", "")


def namespace_of(key: str) -> str:
    return key.split("|", 1)[0]


@dataclass(frozen=True, slots=True)
class Description:
    """What matching needs of one calendar fact.

    Attributes:
        keys: identifier keys, the performance key first (``crosswalk.keys_of``).
        source: ``source_system/source_account``.
        title: the production's title as the source writes it.
        start_ms: start, UTC epoch milliseconds.
        venue_name, venue_city, venue_postcode, venue_id: where, as the source says.

    """

    keys: tuple[str, ...]
    source: str
    title: str
    start_ms: int
    venue_name: str | None = None
    venue_city: str | None = None
    venue_postcode: str | None = None
    venue_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"keys": list(self.keys), "source": self.source, "title": self.title,
                "start_ms": self.start_ms,
                "venue_name": self.venue_name, "venue_city": self.venue_city,
                "venue_postcode": self.venue_postcode, "venue_id": self.venue_id}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Description:
        return cls(keys=tuple(d["keys"]), source=shared(d["source"]), title=shared(d["title"]),
                   start_ms=int(d["start_ms"]), venue_name=shared(d.get("venue_name")),
                   venue_city=shared(d.get("venue_city")), venue_postcode=shared(d.get("venue_postcode")),
                   venue_id=shared(d.get("venue_id")))


def description_of(performance: dict[str, Any]) -> Description:
    """The description of a decoded Performance record (times as int ms or datetimes)."""
    keys = [performance["performance_key"]]
    for ident in performance.get("identifiers") or []:
        k = f"{ident['namespace']}|{ident['value']}"
        if k not in keys:
            keys.append(k)
    start = performance["start"]
    start_ms = start if isinstance(start, int) else int(start.timestamp() * 1000)
    venue = performance.get("venue") or {}
    source = f"{performance['source_system']}/{performance['source_account']}"
    return Description(keys=tuple(keys), source=shared(source),
                       title=shared(performance.get("title") or ""), start_ms=start_ms,
                       venue_name=shared(venue.get("name")), venue_city=shared(venue.get("city")),
                       venue_postcode=shared(venue.get("postcode")), venue_id=shared(venue.get("id")))


@dataclass(frozen=True)
class Decision:
    """What to do with a description: ``link`` to ``target``, ask a person (``review``),
    or found a ``new`` performance. ``score`` is the best candidate's (0.0 when none)."""

    outcome: Literal["link", "review", "new"]
    target: str | None
    score: float
    reason: str


@dataclass(slots=True)
class _Group:
    """One known performance of more than one description: its sources, postcode areas
    and identifier keys (tuples: mostly one or two of each; a dict of keys by namespace
    cost ~260 bytes more a performance). A matcher holds a performance of one description
    as that description (most are: ~220 bytes less each)."""

    sources: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()

    def add(self, description: Description) -> None:
        if description.source not in self.sources:
            self.sources += (description.source,)
        if area := _postcode_area(description.venue_postcode):
            if area not in self.areas:
                self.areas += (shared(area),)
        for key in description.keys:
            if key not in self.keys:
                self.keys += (key,)


_start_ms = operator.attrgetter("start_ms")


def _group(known: _Group | Description) -> _Group:
    if isinstance(known, _Group):
        return known
    group = _Group()
    group.add(known)
    return group


def _conflicts(d: Description, group: _Group) -> str | None:
    if d.source in group.sources:
        return f"same source {d.source}"
    area = _postcode_area(d.venue_postcode)
    if area and group.areas and area not in group.areas:
        return f"another postcode ({area} vs {', '.join(sorted(group.areas))})"
    for key in d.keys:
        if key in group.keys:
            continue
        ns = namespace_of(key)
        if any(namespace_of(theirs) == ns for theirs in group.keys):
            return f"different {ns} ids"
    return None


class Matcher:
    """The known performances of one day (or any window) and the decision for a new description.

    Args:
        link_at: score from which a link is made automatically.
        review_at: score from which a person is asked (below: a new performance).
        start_tolerance_s: most seconds two starts of one performance may differ.
        same_venue: optional ``(venue id, venue id) -> bool``: ids known to be one venue
            (a venue crosswalk); a shared id always is.

    """

    def __init__(self, *, link_at: float = LINK_AT, review_at: float = REVIEW_AT,
                 start_tolerance_s: int = START_TOLERANCE_S,
                 same_venue: Callable[[str, str], bool] | None = None) -> None:
        if not 0 <= review_at <= link_at <= 100:
            raise ValueError(f"match thresholds must satisfy 0 <= review_at ({review_at}) <= link_at "
                             f"({link_at}) <= 100: fix streams.match_review_at / match_link_at")
        if start_tolerance_s <= 0:
            raise ValueError(f"start_tolerance_s must be positive, got {start_tolerance_s}")
        self.link_at = link_at
        self.review_at = review_at
        self.tolerance_ms = start_tolerance_s * 1000
        self.same_venue = same_venue
        # known descriptions by start, and each one's canonical id (two lists: no tuple a
        # performance)
        self._entries: list[Description] = []
        self._canonicals: list[str] = []
        self._groups: dict[str, _Group | Description] = {}  # by canonical id

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, description: Description, canonical: str) -> None:
        """A performance (or one more description of it) is now known."""
        i = bisect.bisect_right(self._entries, description.start_ms, key=_start_ms)
        self._entries.insert(i, description)
        self._canonicals.insert(i, canonical)
        known = self._groups.get(canonical)
        if known is None:
            self._groups[canonical] = description
            return
        group = self._groups[canonical] = _group(known)
        group.add(description)

    def score(self, a: Description, b: Description) -> tuple[float, str]:
        """Score of two descriptions and why (no blocking rules; starts within tolerance)."""
        title = title_score(a.title, a.venue_city, b.title, b.venue_city)
        venue = self._venue(a, b)
        dt_ms = b.start_ms - a.start_ms
        off = abs(dt_ms)
        start = 100.0 if off <= _EXACT_S * 1000 else max(
            50.0, 100.0 - 50.0 * (off - _EXACT_S * 1000) / max(self.tolerance_ms - _EXACT_S * 1000, 1))
        total = round(_TITLE_W * title + _VENUE_W * venue + _START_W * start, 2)
        minutes = round(dt_ms / 60000)
        return total, f"title {title:.0f}, venue {venue:.0f}, start {minutes:+d} min"

    def _venue(self, a: Description, b: Description) -> float:
        if a.venue_id and b.venue_id and (a.venue_id == b.venue_id or (
                self.same_venue is not None and self.same_venue(a.venue_id, b.venue_id))):
            return 100.0
        ca, cb = normalise(a.venue_city), normalise(b.venue_city)
        pa, pb = _postcode_area(a.venue_postcode), _postcode_area(b.venue_postcode)
        same_area = bool(pa) and pa == pb
        if (pa and pb and pa != pb) or (ca and cb and ca != cb and not same_area):
            return 0.0  # one postcode with two city names is one place: "Brussel" / "Bruxelles"
        name = fuzz.token_set_ratio(normalise(a.venue_name), normalise(b.venue_name)) \
            if a.venue_name and b.venue_name else 0.0
        floor = _SAME_POSTCODE if pa and pa == pb else _SAME_CITY if ca and ca == cb else _VENUE_NEUTRAL
        return max(float(name), floor)

    def decide(self, description: Description) -> Decision:
        """Link, review or new, against the best candidate performance within the tolerance."""
        lo = bisect.bisect_left(self._entries, description.start_ms - self.tolerance_ms, key=_start_ms)
        hi = bisect.bisect_right(self._entries, description.start_ms + self.tolerance_ms, key=_start_ms)
        best: tuple[float, str, str] | None = None  # score, canonical, why
        blocked: list[str] = []
        seen: set[str] = set()
        for known, canonical in zip(self._entries[lo:hi], self._canonicals[lo:hi], strict=True):
            if canonical in seen:
                continue
            why_not = _conflicts(description, _group(self._groups[canonical]))
            if why_not:
                seen.add(canonical)
                blocked.append(f"{canonical}: {why_not}")
                continue
            score, why = self.score(description, known)
            if best is None or score > best[0] or (score == best[0] and canonical < best[1]):
                best = (score, canonical, why)
        if best is None:
            extra = f"; blocked: {'; '.join(sorted(blocked)[:3])}" if blocked else ""
            return Decision("new", None, 0.0, f"no candidate within {self.tolerance_ms // 60000} min{extra}")
        score, canonical, why = best
        if score >= self.link_at:
            return Decision("link", canonical, score, f"match: {why}")
        if score >= self.review_at:
            return Decision("review", canonical, score, f"review: {why}")
        return Decision("new", None, score, f"best candidate {canonical} below {self.review_at:g}: {why}")

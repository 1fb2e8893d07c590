"""The simulator's real rules (``identifiers="real"`` seasons): what real sources carry.

In a ``real`` season no source carries an identifier its real counterpart would not:
no vendor ids in UiTdatabank labels, no ``X-CULTUURBUS-ID`` in iCal, no canonical id in
schema.org pages. What links descriptions of one performance is then only what real
data has:

- **Vendor fields** (``SimPerformance.vendor_field``): a Ticketmatic custom field
  (``c_dipid`` in NL, ``c_uitdatabankid`` in Flanders), an Eventix metadata entry or a
  box-office CSV column holds the DIP or UiTdatabank id. A share of the vendor events
  (``Season.unlinked_share``, default one third) carries none: every Eventbrite event
  (Eventbrite has no custom fields), then Ticketmatic events until the share is reached.
  Stager and DIP-cumulative report to DIP under the DIP id; they keep it.
- **Shop links** (``SimPerformance.shop_link``): every Eventbrite performance, and some
  Ticketmatic ones without a sector id, are published by a calendar with the vendor's
  real shop URL (``shop_url``): UiT ``bookingInfo.url`` of an event with that one date,
  or schema.org ``offers.url``. ``connectors.sdk.shopurls`` reads them.
- **Matching**: the rest (Ticketmatic event items without a sector id, every venue
  page and iCal feed) can only be found by venue, start and title. Titles and venue
  names vary per source as they do in real data (``title_for``/``venue_name_for``: case,
  producer subtitles, "Voorstelling: ...", city suffixes, accents), the same for every
  date of one production at one venue, so a matinee and the evening show of one day
  carry identical titles (``pair_matinees`` makes some such pairs).
- **Declared availability**: some venues have no ticketing connector (kind
  ``DECLARED``); they declare remaining seats in UiTdatabank (``remainingCapacity``) or
  on their schema.org page (``remainingAttendeeCapacity``, ``offers.availability``).

The ground truth stays exact: ``description_refs`` names, per source, the reference
each description of a performance carries (``ref_of`` reads it back from a
``Performance`` record).
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections import Counter
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.simulator.model import (
    BOXOFFICE_CSV,
    DECLARED,
    DIP_CALENDAR,
    DIP_CUMULATIVE,
    EVENTBRITE,
    EVENTIX,
    ICAL,
    SCHEMAORG,
    STAGER,
    TICKETMATIC,
    UITDATABANK,
    Season,
    SimPerformance,
    VenueSpec,
)
from schemas.models import Identifier

__all__ = ["DEFAULT_UNLINKED_SHARE", "declared_at", "declared_remaining", "declared_status",
           "declared_venues", "description_refs", "ical_uid", "link_plan", "local_ref",
           "pair_matinees", "real_kinds", "ref_of", "schemaorg_id", "shop_url", "title_for",
           "vendor_field_value", "venue_name_for"]

DEFAULT_UNLINKED_SHARE = 1 / 3
_TZ_NAME = "Europe/Amsterdam"
_NO_SECTOR_ID = (EVENTBRITE, TICKETMATIC)  # vendors that publish a description of their own
_MATINEE = time(14, 30)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _pick(n: int, *parts: object) -> int:
    """A stable choice in ``range(n)`` from ``parts`` (no RNG: rendering stays pure)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") % n


# -- season building -------------------------------------------------------------------
def declared_venues(rng: random.Random, venues: list[VenueSpec]) -> set[str]:
    """Venues without a ticketing connector: about one in six (at least one) of those whose
    calendar can declare availability (UiTdatabank in Flanders, a schema.org page in NL)."""
    able = [v.key for v in venues if v.country == "BE" or SCHEMAORG in v.calendar_feeds]
    if len(able) < 2:
        return set()
    return set(rng.sample(able, max(1, len(venues) // 6)))


def real_kinds(venue: VenueSpec, declared: set[str]) -> tuple[str, ...]:
    """Ticketing kinds a performance at ``venue`` may be sold with in a real season.

    A declared venue has none. Ticketmatic also sells in Flanders (its events carry the
    UiTdatabank id in a custom field). Eventbrite events carry no sector id; in NL they
    are linked by the venue page's shop link, so only venues with a schema.org page.
    """
    if venue.key in declared:
        return (DECLARED,)
    if venue.country == "BE":
        return (EVENTIX, EVENTBRITE, TICKETMATIC, BOXOFFICE_CSV)
    kinds = (EVENTIX, EVENTBRITE, STAGER, TICKETMATIC, DIP_CUMULATIVE, BOXOFFICE_CSV)
    return kinds if SCHEMAORG in venue.calendar_feeds else tuple(k for k in kinds if k != EVENTBRITE)


def pair_matinees(rng: random.Random, drafts: list[dict[str, Any]], first: int, tz: Any) -> int:
    """Move some performances next to an evening show of their production: same venue,
    hall and day at 14:30, so one production plays a matinee and an evening show with
    identical titles. Drafts before ``first`` (tonight, tomorrow) stay. Returns the pairs."""
    by_prod: dict[str, list[int]] = {}
    for i in range(first, len(drafts)):
        by_prod.setdefault(drafts[i]["prod"].id, []).append(i)
    wanted = max(1, len(drafts) // 15)
    pairs = 0
    used: set[int] = set()
    for pid in sorted(by_prod, key=lambda p: rng.random()):
        idx = [i for i in by_prod[pid] if i not in used]
        evening = [i for i in idx if drafts[i]["start"].astimezone(tz).hour >= 19]
        if len(idx) < 2 or not evening or pairs >= wanted:
            continue
        i = evening[0]
        j = next(k for k in idx if k != i)
        ev = drafts[i]
        length = min(drafts[j]["end"] - drafts[j]["start"], timedelta(minutes=150))
        start = datetime.combine(ev["start"].astimezone(tz).date(), _MATINEE, tzinfo=tz)
        start = start.astimezone(ev["start"].tzinfo)
        drafts[j].update(venue=ev["venue"], hall=ev["hall"], capacity=ev["capacity"], start=start,
                         end=start + length, on_sale=ev["on_sale"])
        used.update((i, j))
        pairs += 1
    return pairs


def link_plan(rng: random.Random, countries: list[str], kinds: list[str], schema: list[bool],
              share: float) -> list[tuple[str, bool]]:
    """``(vendor_field, shop_link)`` per performance (``countries``, ``kinds`` and whether its
    venue has a schema.org page, index by index); see the module docstring."""
    fields = ["" if k in (EVENTBRITE, DECLARED) else "dip" if c == "NL" else "uit"
              for c, k in zip(countries, kinds, strict=True)]
    vendor = [i for i, k in enumerate(kinds) if k not in (DIP_CUMULATIVE, DECLARED)]
    target = round(share * len(vendor))
    unlinked = sum(1 for i in vendor if not fields[i])
    for i in rng.sample([i for i in vendor if kinds[i] == TICKETMATIC],
                        sum(1 for i in vendor if kinds[i] == TICKETMATIC)):
        if unlinked >= target:
            break
        fields[i] = ""
        unlinked += 1
    links = [k == EVENTBRITE for k in kinds]
    for i, k in enumerate(kinds):  # a third of the Ticketmatic ones without id: a shop link
        if k == TICKETMATIC and not fields[i] and (countries[i] == "BE" or schema[i]):
            links[i] = rng.random() < 1 / 3
    return list(zip(fields, links, strict=True))


# -- rendering ------------------------------------------------------------------------
def title_for(season: Season, perf: SimPerformance, source: str) -> str:
    """The production's title as ``source`` writes it (the DIP calendar: as registered).
    One choice per (production, venue, source): a matinee and its evening show agree."""
    prod = season.production(perf.production_id)
    if not season.real or source == DIP_CALENDAR:
        return prod.title
    city = season.venue(perf.venue).city
    variants = (prod.title, prod.title.upper(), f"{prod.title} - {prod.producer}",
                f"Voorstelling: {prod.title}", f"{prod.title} | {city}",
                f"{prod.producer}: {prod.title}", f"{prod.title} (première)",
                f"{prod.title.lower()} – {city.upper()}")
    return variants[_pick(len(variants), prod.id, perf.venue, source)]


def venue_name_for(season: Season, perf: SimPerformance, source: str) -> str:
    """The venue's name as ``source`` writes it (structured address fields stay exact)."""
    venue = season.venue(perf.venue)
    if not season.real or source == DIP_CALENDAR:
        return venue.name
    short = venue.name.replace(venue.city, "").strip() or venue.name
    swapped = (venue.name.replace("Cultuurcentrum ", "CC ") if venue.name.startswith("Cultuur")
               else venue.name.replace("CC ", "Cultuurcentrum "))
    variants = (venue.name, f"{venue.name} - {perf.hall}", venue.name.upper(),
                f"{short} {perf.hall.lower()}", swapped, f"{venue.name}, {venue.city}")
    return variants[_pick(len(variants), perf.venue, source)]


def vendor_field_value(perf: SimPerformance) -> str | None:
    """What the venue typed into its vendor's custom field (``vendor_field``), or None.

    DIP ids as DIP writes them; UiTdatabank ids as venues copy them: the event id alone
    (the date is then found by start time), ``event#subEvent`` or the event's URL."""
    if perf.vendor_field == "dip" and perf.dip_number is not None:
        return perf.canonical_id.split("|", 1)[1]
    if perf.vendor_field == "uit" and perf.uit_event is not None:
        return (perf.uit_event, f"{perf.uit_event}#{perf.uit_index}",
                f"https://io.uitdatabank.be/event/{perf.uit_event}")[_pick(3, perf.canonical_id)]
    return None


def shop_url(season: Season, perf: SimPerformance) -> str | None:
    """The vendor's real ticket-shop URL of the performance, where it has one."""
    if perf.vendor_id is None:
        return None
    if perf.ticketing == TICKETMATIC:
        return (f"https://apps.ticketmatic.com/widgets/{perf.account}/addtickets"
                f"?event={perf.vendor_id}&l=nl")
    if perf.ticketing == EVENTBRITE:
        tld = season.venue(perf.venue).country.lower()
        slug = _slug(season.production(perf.production_id).title)
        return f"https://www.eventbrite.{tld}/e/{slug}-tickets-{perf.vendor_id}?aff=ebdssbdestsearch"
    return None


def local_ref(season: Season, perf: SimPerformance) -> str:
    """The venue's own reference of a performance in a real season: its agenda path
    (schema.org ``@id``, iCal ``UID``), from title, hall and local start."""
    local = perf.start.astimezone(_tz()).strftime("%Y%m%d-%H%M")
    return f"{_slug(season.production(perf.production_id).title)}-{_slug(perf.hall)}-{local}"


def _tz() -> ZoneInfo:
    return ZoneInfo(_TZ_NAME)


def _remaining(season: Season) -> dict[str, tuple[int, datetime | None]]:
    cached = season.__dict__.get("_declared")
    if cached is None:
        signed = {"SOLD": 1, "CANCELLED": -1, "REFUNDED": -1}
        taken: Counter[str] = Counter()
        last: dict[str, datetime] = {}
        for h in season.happenings:
            if h.event_type in signed:
                taken[h.performance] += signed[h.event_type] * h.quantity
                last[h.performance] = max(last.get(h.performance, h.event_time), h.event_time)
        cached = {p.canonical_id: (max(p.capacity - taken[p.canonical_id], 0),
                                   last.get(p.canonical_id)) for p in season.performances}
        object.__setattr__(season, "_declared", cached)
    return cached  # type: ignore[no-any-return]


def declared_remaining(season: Season, perf: SimPerformance) -> int:
    """Seats the venue declares left (a ``DECLARED`` performance sells without holds)."""
    return _remaining(season)[perf.canonical_id][0]


def declared_at(season: Season, perf: SimPerformance, modified: datetime) -> datetime:
    """When the venue last updated its declaration: its last sale, or ``modified``."""
    last = _remaining(season)[perf.canonical_id][1]
    return max(modified, last) if last is not None else modified


def declared_status(season: Season, perf: SimPerformance) -> str:
    """schema.org ``ItemAvailability`` of the seats left."""
    left = declared_remaining(season, perf)
    return "SoldOut" if left == 0 else "LimitedAvailability" if left <= 10 else "InStock"


# -- ground truth ----------------------------------------------------------------------
def description_refs(season: Season, perf: SimPerformance) -> dict[str, str]:
    """Source kind -> the reference its description of ``perf`` carries (``ref_of``)."""
    venue = season.venue(perf.venue)
    out: dict[str, str] = {}
    for source in perf.calendars:
        if source == DIP_CALENDAR:
            out[source] = f"dip|{perf.canonical_id}"
        elif source == UITDATABANK:
            out[source] = f"uitdatabank|{perf.canonical_id}"
        elif source == SCHEMAORG:
            out[source] = f"schemaorg|{schemaorg_id(season, perf)}"
        elif source == ICAL:
            out[source] = f"ical|{ical_uid(season, perf)}"
    if perf.ticketing == TICKETMATIC:
        out[TICKETMATIC] = f"ticketmatic|{Identifier.vendor(TICKETMATIC, venue.key, str(perf.vendor_id)).key}"
    return out


def schemaorg_id(season: Season, perf: SimPerformance) -> str:
    venue = season.venue(perf.venue)
    if season.real:
        return f"{venue.url}/agenda/{local_ref(season, perf)}"
    return f"{venue.url}/agenda/{perf.canonical_id.replace('|', '-')}"


def ical_uid(season: Season, perf: SimPerformance) -> str:
    venue = season.venue(perf.venue)
    if season.real:
        return f"{local_ref(season, perf)}@{venue.key}"
    return f"{perf.canonical_id.replace('|', '-')}@{venue.key}"


def ref_of(performance: Any) -> str:
    """The reference of a ``Performance`` (model or decoded dict) as ``description_refs``
    names it: ``<source system>|<the source's own id>``."""
    data = performance if isinstance(performance, dict) else performance.model_dump()
    system, key = data["source_system"], data["performance_key"]
    value = key.partition("|")[2]
    if system == "schemaorg":
        own = next((i["value"] for i in data["identifiers"]
                    if i["namespace"].startswith("schemaorg:")), value)
        return f"schemaorg|{own.split('#', 1)[0]}"
    if system == "ical":
        return f"ical|{value.rsplit('@', 1)[0]}"
    return f"{system}|{key}"

"""The seeded season model: ``build_season(seed, ...)`` -> ``Season``.

Pure and reproducible: every draw comes from one ``random.Random(seed)`` (the buyer
pool's Faker is seeded from it), nothing reads the clock (``now`` is an argument), so
the same arguments give a byte-identical ``Season.to_json()``.

Rules:

- **Venues**: 60 % in NL (DIP theater id, zipcode, city, province), the rest in
  Flanders (UiTdatabank place uuid, Flemish city and province); one or two halls
  each (grote zaal 400-1500 seats, kleine zaal 80-350). About one venue in four
  also publishes schema.org JSON-LD and one in five an iCal feed (at least one each).
- **Productions**: DIP production ids ``NL-YY-NNNN-C`` (season year), title, genre,
  producer, base price; each tours 2-5 venues.
- **Performances**: every production plays at least once; dates spread uniformly over
  ``now - 21 d .. now + 21 d`` at local evening hours (20:15 mostly; matinees for
  jeugd and some klassiek), a few tonight and tomorrow; on sale 38-46 days before.
  Capacity = the hall's seats.
- **Ids** (``identifiers="linked"``; the default ``"real"`` follows
  ``connectors.simulator.realism`` instead): NL performances get a DIP number (1.. per
  production, by start) and the canonical id ``Identifier.dip(production, number).key``;
  BE performances belong to one UiTdatabank event per (production, venue) and get ``Identifier.uit(uuid,
  subEvent index).key``. Every source that describes or sells a performance carries
  that identifier, except where the vendor cannot (``KindCaps.carries_canonical``):
  Ticketmatic orders and Eventbrite attendees carry only the vendor event id; then
  Ticketmatic's own event item, UiT labels, schema.org identifiers and iCal
  ``X-CULTUURBUS-ID`` tags link vendor id -> canonical id.
- **Sources**: one ticketing kind per performance, balanced over the kinds a country
  allows (stager and dip-cumulative are NL only). Calendars: NL on the DIP calendar,
  BE on UiTdatabank, plus the venue's schema.org/iCal pages.
- **Specials**: ``max(1, n/25)`` performances around now are meant to sell out
  (demand 1.4x capacity, no refunds, holds or unblocking); one future performance is
  cancelled (1-4 days ago), one postponed (12 h-3 days ago) where a calendar can say
  so (UiTdatabank, or a venue with a schema.org page).
- **Sales**: see ``connectors.simulator.sales``.
- **Delivery order**: by event time, except that for kinds whose deliveries can
  arrive out of order (``KindCaps.out_of_order``) a quarter of the refunds and
  cancellations are delivered right before the sale they undo (out-of-order arrival
  is a feature the bus must absorb).
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from connectors.simulator import catalog, realism
from connectors.simulator.model import (
    BOXOFFICE_CSV,
    CAPABILITIES,
    DECLARED,
    DIP_CALENDAR,
    DIP_CUMULATIVE,
    EVENTBRITE,
    EVENTIX,
    ICAL,
    IDENTIFIER_MODES,
    SCHEMAORG,
    SNAPSHOT_KINDS,
    STAGER,
    TICKETMATIC,
    UITDATABANK,
    Production,
    Season,
    SimPerformance,
    Snapshot,
    TicketHappening,
    VenueSpec,
)
from connectors.simulator.people import BuyerPool, make_customers
from connectors.simulator.sales import PerformancePlan, simulate_performance, snapshots_of
from schemas.models import Identifier

__all__ = ["LOCAL_TZ", "build_season"]

LOCAL_TZ = ZoneInfo("Europe/Amsterdam")  # Brussels keeps the same clock
_KINDS_BY_COUNTRY = {
    "NL": (EVENTIX, EVENTBRITE, STAGER, TICKETMATIC, DIP_CUMULATIVE, BOXOFFICE_CSV),
    "BE": (EVENTIX, EVENTBRITE, BOXOFFICE_CSV),
}


def _allowed(venue: VenueSpec) -> tuple[str, ...]:
    """Ticketing kinds a performance at ``venue`` may be sold with.

    Stager and DIP are Dutch. Ticketmatic's event item can carry only a DIP id (custom
    field), so its Flemish events would have nothing to tie them when tickets come
    before the calendar. Eventbrite's facts carry only its own id, and the DIP
    calendar has no field for vendor ids: in NL it needs the venue's own calendar
    (schema.org/iCal tags); in Flanders UiT labels link it.
    """
    kinds = _KINDS_BY_COUNTRY[venue.country]
    if venue.country == "NL" and not venue.calendar_feeds:
        kinds = tuple(k for k in kinds if k != EVENTBRITE)
    return kinds


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _venues(rng: random.Random, count: int) -> list[VenueSpec]:
    n_nl = max(1, round(count * 0.6)) if count > 1 else 1
    out: list[VenueSpec] = []
    keys: set[str] = set()
    for country, n, cities in (("NL", n_nl, catalog.NL_CITIES), ("BE", count - n_nl, catalog.BE_CITIES)):
        pool = rng.sample(cities, len(cities))
        for i in range(n):
            city, zipcode, prov_id, prov = pool[i % len(pool)]
            name = rng.choice(catalog.VENUE_PATTERNS[country]).format(city=city)
            key = _slug(name)
            while key in keys:
                key += "-2"
            keys.add(key)
            halls: tuple[tuple[str, int], ...] = (("Grote zaal", rng.randint(400, 1500)),)
            if rng.random() < 0.75:
                halls += (("Kleine zaal", rng.randint(80, 350)),)
            out.append(VenueSpec(
                key=key, name=name, country=country, city=city, zipcode=zipcode,
                province_id=prov_id, province=prov,
                dip_theater_id=str(rng.randint(1000, 9999)) if country == "NL" else None,
                uit_place_uuid=_uuid(rng) if country == "BE" else None, halls=halls,
                url=f"https://www.{key}.{country.lower()}"))
    order = rng.sample(range(len(out)), len(out))
    n_schema = max(1, len(out) // 4)
    n_ical = max(1, len(out) // 5)
    schema = set(order[:n_schema])
    ical = set(order[n_schema:n_schema + n_ical] or order[:n_ical])
    return [VenueSpec(**{**v.__dict__, "calendar_feeds": tuple(
        k for k, on in ((SCHEMAORG, i in schema), (ICAL, i in ical)) if on)})
        for i, v in enumerate(out)]


def _productions(rng: random.Random, count: int, venues: list[VenueSpec], now: datetime
                 ) -> list[Production]:
    year = (now.year if now.month >= 8 else now.year - 1) % 100
    titles = rng.sample(catalog.TITLES, len(catalog.TITLES))
    ids: set[str] = set()
    out = []
    for i in range(count):
        pid = f"NL-{year:02d}-{rng.randint(1000, 9999)}-{rng.randint(1, 9)}"
        while pid in ids:
            pid = f"NL-{year:02d}-{rng.randint(1000, 9999)}-{rng.randint(1, 9)}"
        ids.add(pid)
        genre = rng.choice(catalog.GENRES)
        lo, hi = {"jeugd": (900, 1600), "klassiek": (2000, 5500)}.get(genre, (1500, 4500))
        producer_id, producer = rng.choice(catalog.PRODUCERS)
        title = titles[i % len(titles)] + ("" if i < len(titles) else f" ({i // len(titles) + 1})")
        tour = rng.sample([v.key for v in venues], rng.randint(min(2, len(venues)), min(5, len(venues))))
        out.append(Production(id=pid, title=title, genre=genre, producer_id=producer_id,
                              producer=producer, base_price_cents=rng.randrange(lo, hi + 1, 50),
                              venues=tuple(tour)))
    return out


def _start(rng: random.Random, day: datetime, genre: str) -> datetime:
    if genre == "jeugd":
        hm = rng.choice(((14, 30), (15, 0), (19, 0)))
    elif genre == "klassiek" and rng.random() < 0.3:
        hm = (15, 0)
    else:
        hm = rng.choices(((20, 15), (19, 30), (20, 30)), weights=(8, 1, 1))[0]
    local = datetime.combine(day.date(), time(*hm), tzinfo=LOCAL_TZ)
    return local.astimezone(UTC)


def _soon(now: datetime, k: int) -> datetime:
    """Tonight (or late tonight) for even ``k``, tomorrow night for odd ``k``."""
    local = now.astimezone(LOCAL_TZ)
    for hm in ((20, 15), (22, 30)):
        t = datetime.combine(local.date(), time(*hm), tzinfo=LOCAL_TZ).astimezone(UTC)
        if k % 2 == 0 and t > now + timedelta(minutes=30):
            return t
    tomorrow = local.date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(20, 15), tzinfo=LOCAL_TZ).astimezone(UTC)


def _drafts(rng: random.Random, n: int, prods: list[Production], venues: dict[str, VenueSpec],
            now: datetime) -> list[dict[str, object]]:
    assigned = list(range(len(prods))) + [rng.randrange(len(prods)) for _ in range(n - len(prods))]
    assigned = rng.sample(assigned[:n], min(n, len(assigned)))
    n_soon = max(2, n // 12)
    taken: set[tuple[str, str, object]] = set()
    out = []
    for i, pi in enumerate(assigned):
        prod = prods[pi]
        venue = venues[rng.choice(prod.venues)]
        small = prod.genre in ("jeugd", "cabaret") and rng.random() < 0.7
        hall = venue.halls[-1] if small else venue.halls[0]
        if i < n_soon:
            start = _soon(now, i)
            free = [(venues[k], h) for k in prod.venues for h in venues[k].halls
                    if (k, h[0], start.date()) not in taken]
            if free:  # another hall of the tour, so no hall plays twice a night
                venue, hall = free[0] if (venue, hall) not in free else (venue, hall)
        else:
            day = now + timedelta(days=rng.randint(-21, 21))
            start = _start(rng, day, prod.genre)
            for shift in (1, -1, 2, -2, 3, -3):
                if (venue.key, hall[0], start.date()) not in taken:
                    break
                start = _start(rng, day + timedelta(days=shift), prod.genre)
        taken.add((venue.key, hall[0], start.date()))
        minutes = rng.randint(60, 75) if prod.genre == "jeugd" else rng.randint(90, 150)
        on_sale_day = (start - timedelta(days=rng.randint(38, 46))).astimezone(LOCAL_TZ)
        on_sale = datetime.combine(on_sale_day.date(), time(10, 0), tzinfo=LOCAL_TZ).astimezone(UTC)
        out.append({"prod": prod, "venue": venue, "hall": hall[0], "capacity": hall[1],
                    "start": start, "end": start + timedelta(minutes=minutes), "on_sale": on_sale,
                    "popularity": min(1.0, max(0.15, rng.betavariate(2.2, 1.6)))})
    return out


def _kinds(rng: random.Random, drafts: list[dict[str, object]], declared: set[str] | None
           ) -> list[str]:
    used = dict.fromkeys((*_KINDS_BY_COUNTRY["NL"], DECLARED), 0)
    kinds = [""] * len(drafts)
    for i in rng.sample(range(len(drafts)), len(drafts)):
        venue: VenueSpec = drafts[i]["venue"]  # type: ignore[assignment]
        allowed = _allowed(venue) if declared is None else realism.real_kinds(venue, declared)
        low = min(used[k] for k in allowed)
        kind = rng.choice([k for k in allowed if used[k] == low])
        used[kind] += 1
        kinds[i] = kind
    return kinds


def _vendor_id(rng: random.Random, kind: str, venue: VenueSpec, serial: int) -> str | None:
    if kind == EVENTIX:
        return _uuid(rng)
    if kind == EVENTBRITE:
        return str(rng.randint(10**11, 10**12 - 1))
    if kind == STAGER:
        return str(rng.randint(100000, 999999))
    if kind == TICKETMATIC:
        return str(10000 + serial)
    if kind == BOXOFFICE_CSV:
        return f"{venue.key[:3].upper()}-{serial:04d}"
    return None


def build_season(seed: int, *, venues: int, productions: int, performances: int,
                 now: datetime, identifiers: str = "real",
                 unlinked_share: float = realism.DEFAULT_UNLINKED_SHARE) -> Season:
    """Draw a whole season up to ``now`` from ``seed``.

    Args:
        seed: the only source of randomness.
        venues: number of venues (>= 2: at least one in NL and one in BE).
        productions: number of productions (>= 1).
        performances: number of performances (>= max(productions, 3)).
        now: the season's present (aware); no happening lies after it.
        identifiers: ``real`` (the default: only what real sources carry,
            ``connectors.simulator.realism``) or ``linked`` (the simulator's own conventions:
            every source carries the canonical id; the "Ids" rules above).
        unlinked_share: in a real season, the share of vendor events with no sector id.

    Raises:
        ValueError: parameters that cannot make a season.

    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if venues < 2 or productions < 1 or performances < max(productions, 3):
        raise ValueError("need venues >= 2, productions >= 1 and performances >= "
                         "max(productions, 3)")
    if identifiers not in IDENTIFIER_MODES or not 0 <= unlinked_share <= 1:
        raise ValueError(f"identifiers must be one of {', '.join(IDENTIFIER_MODES)} (not "
                         f"{identifiers!r}) and unlinked_share within 0..1 (not {unlinked_share})")
    real = identifiers == "real"
    real_rng = random.Random(f"{seed}/real")  # linked seasons draw exactly as before
    now = now.astimezone(UTC).replace(microsecond=0)
    rng = random.Random(seed)
    vlist = _venues(rng, venues)
    vmap = {v.key: v for v in vlist}
    prods = _productions(rng, productions, vlist, now)
    drafts = _drafts(rng, performances, prods, vmap, now)
    declared = realism.declared_venues(real_rng, vlist) if real else None
    if real:
        realism.pair_matinees(real_rng, drafts, max(2, performances // 12), LOCAL_TZ)
    kinds = _kinds(rng, drafts, declared)
    links = realism.link_plan(
        real_rng, [d["venue"].country for d in drafts], kinds,  # type: ignore[attr-defined]
        [SCHEMAORG in d["venue"].calendar_feeds for d in drafts],  # type: ignore[attr-defined]
        unlinked_share) if real else [("", False)] * len(drafts)

    # identifiers: DIP numbers per production (NL) and UiT subEvent indexes (BE), by start
    order = sorted(range(len(drafts)), key=lambda i: (drafts[i]["start"], i))  # type: ignore[arg-type,return-value]
    dip_numbers: dict[str, int] = {}
    uit_events: dict[tuple[str, ...], tuple[str, list[int]]] = {}
    ids: dict[int, tuple[int | None, str | None, int | None]] = {}
    for i in order:
        d = drafts[i]
        prod, venue = d["prod"], d["venue"]
        assert isinstance(prod, Production) and isinstance(venue, VenueSpec)
        if venue.country == "NL":
            dip_numbers[prod.id] = dip_numbers.get(prod.id, 0) + 1
            ids[i] = (dip_numbers[prod.id], None, None)
        else:
            own = (str(i),) if links[i][1] else ()  # a shop link is one date's: its own event
            ev = uit_events.setdefault((prod.id, venue.key, *own), (_uuid(rng), []))
            ev[1].append(i)
            ids[i] = (None, ev[0], len(ev[1]) - 1)

    # specials
    soon = [i for i in order if drafts[i]["start"] <= now + timedelta(days=2)]  # type: ignore[operator]
    later = [i for i in order if i not in soon]
    sold_out = set(rng.sample(soon, min(len(soon), max(1, performances // 25))))
    if not later:
        later = [order[-1]]
    cancelled = rng.choice(later)
    # postponed: only UiT (TemporarilyUnavailable) and schema.org (EventPostponed) can say
    # so; DIP knows agreed|cancellation and iCal no postponement.
    # (not a Dutch sibling of the cancelled one: DIP stamps a production's performances
    # with one time, which would then be newer than the venue page saying postponed)
    can_postpone = [i for i in later if i != cancelled and (
        drafts[i]["venue"].country == "BE"  # type: ignore[attr-defined]
        or (SCHEMAORG in drafts[i]["venue"].calendar_feeds  # type: ignore[attr-defined]
            and drafts[i]["prod"] is not drafts[cancelled]["prod"]))]
    postponed = rng.choice(can_postpone) if can_postpone else -1

    perfs: list[SimPerformance] = []
    serial = 0
    for i, d in enumerate(drafts):
        prod, venue = d["prod"], d["venue"]
        assert isinstance(prod, Production) and isinstance(venue, VenueSpec)
        number, uit_event, uit_index = ids[i]
        canonical = (Identifier.dip(prod.id, number).key if number is not None
                     else Identifier.uit(str(uit_event), int(uit_index or 0)).key)
        status, changed = "SCHEDULED", None
        if i == cancelled:
            status, changed = "CANCELLED", now - timedelta(seconds=rng.randint(86400, 4 * 86400))
        elif i == postponed:
            status, changed = "POSTPONED", now - timedelta(seconds=rng.randint(43200, 3 * 86400))
        serial += 1
        cals = (DIP_CALENDAR if venue.country == "NL" else UITDATABANK,) + venue.calendar_feeds
        perfs.append(SimPerformance(
            canonical_id=canonical, production_id=prod.id, venue=venue.key, hall=str(d["hall"]),
            start=d["start"], end=d["end"], capacity=int(d["capacity"]),  # type: ignore[arg-type,call-overload]
            on_sale=d["on_sale"], status=status, status_changed_at=changed,  # type: ignore[arg-type]
            ticketing=kinds[i], account=venue.key,
            vendor_id=_vendor_id(rng, kinds[i], venue, serial), dip_number=number,
            uit_event=uit_event, uit_index=uit_index, calendars=cals,
            tickets_carry_canonical=bool(links[i][0]) if real else (
                CAPABILITIES[kinds[i]].carries_canonical
                and not (kinds[i] == BOXOFFICE_CSV and venue.country == "BE")),
            sold_out=i in sold_out,
            popularity=round(float(d["popularity"]), 3),  # type: ignore[arg-type]
            vendor_field=links[i][0], shop_link=links[i][1]))

    expected_orders = sum(p.capacity * (1.4 if p.sold_out else p.popularity) for p in perfs) / 2.4
    customers = make_customers(rng, max(40, int(expected_orders / 2.2)), now.date())
    pool = BuyerPool(customers)
    happenings: list[TicketHappening] = []
    snapshots: list[Snapshot] = []
    for i, p in enumerate(perfs):
        prod = prods[[x.id for x in prods].index(p.production_id)]
        plan = PerformancePlan(
            key=p.canonical_id, index=i, start=p.start, on_sale=p.on_sale, capacity=p.capacity,
            popularity=p.popularity, sold_out=p.sold_out, status=p.status,
            status_changed_at=p.status_changed_at, venue_country=vmap[p.venue].country,
            base_price_cents=prod.base_price_cents, now=now,
            holds=CAPABILITIES[p.ticketing].holds, blocks=CAPABILITIES[p.ticketing].blocks)
        mine = simulate_performance(random.Random(rng.getrandbits(64)), plan, pool)
        happenings.extend(mine)
        if p.ticketing in SNAPSHOT_KINDS:
            snapshots.extend(snapshots_of(plan, mine, prod.base_price_cents))

    return Season(seed=seed, now=now, params={"venues": venues, "productions": productions,
                                              "performances": performances},
                  venues=tuple(vlist), productions=tuple(prods), performances=tuple(perfs),
                  customers=customers, happenings=tuple(happenings), snapshots=tuple(snapshots),
                  delivery=_delivery(rng, happenings, {p.canonical_id for p in perfs
                                                       if CAPABILITIES[p.ticketing].out_of_order}),
                  identifiers=identifiers, unlinked_share=unlinked_share if real else 0.0)


def _delivery(rng: random.Random, happenings: list[TicketHappening], shuffled: set[str]
              ) -> tuple[str, ...]:
    sale_of: dict[str, TicketHappening] = {}
    for h in happenings:
        if h.event_type == "SOLD":
            sale_of.setdefault(h.order_id, h)
    keys = []
    for h in happenings:
        key = (h.event_time, h.id, 0)
        sale = sale_of.get(h.order_id)
        if (h.event_type in ("REFUNDED", "CANCELLED") and sale is not None
                and h.performance in shuffled and rng.random() < 0.25):
            key = (sale.event_time, sale.id, -1)  # delivered just before its sale
        keys.append((key, h.id))
    return tuple(hid for _, hid in sorted(keys))

"""Realistic benchmark data: performances and ticket events, as the connectors publish them.

One :class:`Dataset` is generated once per size from a seed and encoded once: every
part of a run (ceilings, streams, peers, sink) sends the very same Avro bodies. A
performance is a DIP-identified showing at a Dutch or Flemish venue; ticket events are
what a box office reports for it (mostly sales of 1-4 tickets, some reservations and
their releases, cancellations, refunds, blocked seats and door scans), spread over the
performances with a long tail (popular shows sell more). Buyers are pseudonymised the
way the connector does it (HMAC id, postcode area, birth year): no personal data.

Bodies are schemaless Avro (fastavro); :meth:`Dataset.wire` prepends the Confluent
header with the schema id a run's registry subject got, so one encoding serves every
topic prefix.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import random
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import fastavro

from schemas import load_schema
from schemas.models import Performance, TicketEvent

__all__ = ["Dataset", "availability_effect", "make_dataset", "ticket_record"]

_HEADER = struct.Struct(">bI")
VENUES = (  # (id, name, city, postcode, country, region, capacity range)
    ("dip-th-0012", "Stadsschouwburg Utrecht", "Utrecht", "3511 EP", "NL", "Utrecht", (400, 950)),
    ("dip-th-0031", "Internationaal Theater Amsterdam", "Amsterdam", "1017 PT", "NL", "Noord-Holland",
     (300, 900)),
    ("dip-th-0044", "Chassé Theater", "Breda", "4811 DR", "NL", "Noord-Brabant", (250, 1300)),
    ("dip-th-0051", "Theater aan het Vrijthof", "Maastricht", "6211 LE", "NL", "Limburg", (200, 800)),
    ("dip-th-0063", "Stadsschouwburg Groningen", "Groningen", "9711 JS", "NL", "Groningen", (150, 620)),
    ("dip-th-0077", "De Doelen", "Rotterdam", "3012 CL", "NL", "Zuid-Holland", (400, 1500)),
    ("dip-th-0081", "Parkstad Limburg Theaters", "Heerlen", "6411 HV", "NL", "Limburg", (150, 1000)),
    ("uit-pl-4410", "deSingel", "Antwerpen", "2018", "BE", "Antwerpen", (200, 900)),
    ("uit-pl-4512", "NTGent Schouwburg", "Gent", "9000", "BE", "Oost-Vlaanderen", (150, 700)),
    ("uit-pl-4620", "Concertgebouw Brugge", "Brugge", "8000", "BE", "West-Vlaanderen", (300, 1300)),
    ("uit-pl-4733", "Stuk", "Leuven", "3000", "BE", "Vlaams-Brabant", (80, 350)),
)
GENRES = ("toneel", "dans", "muziektheater", "cabaret", "klassieke muziek", "jeugd", "opera", "musical")
TITLES = ("Hamlet", "De Gebroeders Karamazov", "Max Havelaar", "Het Achterhuis", "Ubu Roi",
          "Dansen op de vulkaan", "Winterreise", "De Kersentuin", "Mariken", "Don Giovanni",
          "Tijl Uilenspiegel", "Turks Fruit", "Orlando", "Medea", "De Avonden")
CHANNELS = ("web", "web", "web", "box_office", "app", "reseller")
# (event type, weight): what a season's ticket traffic looks like.
MIX = (("SOLD", 78), ("RESERVED", 5), ("RESERVATION_RELEASED", 4), ("CANCELLED", 1), ("REFUNDED", 2),
       ("BLOCKED", 1), ("UNBLOCKED", 1), ("SCANNED", 8))
_EFFECTS = {"SOLD": ("sold", 1), "CANCELLED": ("sold", -1), "REFUNDED": ("sold", -1),
            "RESERVED": ("reserved", 1), "RESERVATION_RELEASED": ("reserved", -1),
            "BLOCKED": ("blocked", 1), "UNBLOCKED": ("blocked", -1)}


_INDEX = {"sold": 0, "reserved": 1, "blocked": 2}


def availability_effect(event_type: str) -> bool:
    """Whether a ticket event changes availability (every kind but a door scan)."""
    return event_type in _EFFECTS


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass
class Dataset:
    """Performances and ticket events of one size, as Avro bodies and as records.

    Attributes:
        performances: calendar records (``performance.avsc``), one per performance.
        events: ticket event records (``ticket_event.avsc``), in publication order.
        perf_bodies: schemaless Avro bodies of ``performances``.
        event_bodies: schemaless Avro bodies of ``events``.
        targets: performance key -> (sold, reserved, blocked) once every event of this
            dataset and of the ones before it (see :meth:`part`) is applied.
        changing_events: events that change availability (all but door scans).

    """

    performances: list[dict[str, Any]]
    events: list[dict[str, Any]]
    perf_bodies: list[bytes] = field(default_factory=list)
    event_bodies: list[bytes] = field(default_factory=list)
    targets: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    changing_events: int = 0

    def part(self, lo: int, hi: int) -> Dataset:
        """Events ``lo:hi`` over the same performances; targets count every event before ``hi``."""
        totals = {p["performance_key"]: [0, 0, 0] for p in self.performances}
        changing = 0
        for n, e in enumerate(self.events[:hi]):
            effect = _EFFECTS.get(e["event_type"])
            if effect is not None:
                totals[e["performance_key"]][_INDEX[effect[0]]] += effect[1] * e["quantity"]
                changing += n >= lo
        return Dataset(self.performances, self.events[lo:hi], self.perf_bodies, self.event_bodies[lo:hi],
                       {k: (t[0], t[1], t[2]) for k, t in totals.items()}, changing)

    @staticmethod
    def wire(schema_id: int, bodies: list[bytes]) -> list[bytes]:
        """Confluent wire format: magic byte, schema id, body."""
        header = _HEADER.pack(0, schema_id)
        return [header + b for b in bodies]

    def perf_keys(self) -> list[bytes]:
        return [p["performance_key"].encode() for p in self.performances]

    def event_keys(self) -> list[bytes]:
        return [e["performance_key"].encode() for e in self.events]


def _encode(schema: dict[str, Any], records: list[dict[str, Any]]) -> list[bytes]:
    parsed = fastavro.parse_schema(schema)
    out = []
    for rec in records:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, rec)
        out.append(buf.getvalue())
    return out


def _performance(i: int, rng: random.Random, now: datetime) -> dict[str, Any]:
    vid, vname, city, postcode, country, region, (lo, hi) = VENUES[i % len(VENUES)]
    production = f"NL-25-{1000 + i // 8:05d}-{i % 7 + 1}"
    number = i % 8 + 1
    key = f"dip|{production}|{number}"
    # a few start within 48 h (last-minute offers), most later in the season
    start = now + (timedelta(hours=rng.randint(3, 47)) if i % 25 == 0
                   else timedelta(days=rng.randint(3, 180), hours=rng.randint(0, 5)))
    start = start.replace(minute=rng.choice((0, 15, 30)), second=0, microsecond=0)
    modified = now - timedelta(days=rng.randint(5, 60))
    return {
        "fact_id": f"dip:bench:{key}:{_ms(modified)}", "event_time": modified, "ingested_at": modified,
        "source_system": "dip", "source_account": "bench", "performance_key": key,
        "identifiers": [{"namespace": "dip", "value": f"{production}|{number}"}],
        "production_id": production, "title": TITLES[(i // 8) % len(TITLES)],
        "genre": GENRES[i % len(GENRES)],
        "venue": {"id": vid, "name": vname, "city": city, "postcode": postcode, "country": country,
                  "region": region},
        "hall": "grote zaal" if i % 3 else "kleine zaal", "start": start,
        "end": start + timedelta(hours=2, minutes=15), "capacity": rng.randint(lo, hi),
        "status": "SCHEDULED", "on_sale_from": modified - timedelta(days=30),
        "url": f"https://tickets.example.nl/voorstelling/{production.lower()}-{number}",
    }


def ticket_record(perf_key: str, vendor_event: str, n: int, event_type: str, quantity: int,
                  when: int, rng: random.Random) -> dict[str, Any]:
    """One ticket event as the Eventix connector publishes it (pseudonymised buyer);
    ``when`` (epoch ms) is its event time and ingestion time."""
    dip = perf_key.split("|", 1)[1]
    guid = hashlib.blake2b(f"{perf_key}/{n}".encode(), digest_size=12).hexdigest()
    buyer_id = hashlib.sha256(f"bench-buyer-{rng.randint(0, 400_000)}".encode()).hexdigest()
    tt = rng.choices(("NORMAL", "DISCOUNT", "FREE"), cum_weights=(70, 97, 100))[0]
    return {
        "fact_id": f"eventix:acme:{guid}:{event_type}", "event_type": event_type,
        "event_time": when, "ingested_at": when, "source_system": "eventix", "source_account": "acme",
        "performance_key": perf_key,
        "identifiers": [{"namespace": "dip", "value": dip},
                        {"namespace": "vendor:eventix:acme", "value": vendor_event}],
        "quantity": quantity, "ticket_type": tt, "price_cents": 0 if tt == "FREE" else rng.choice(
            (1750, 2250, 2750, 3250, 3950, 4500)),
        "currency": "EUR", "order_id": f"ord-{guid[:16]}",
        "ticket_ids": [f"{guid}-{k}" for k in range(quantity)], "channel": rng.choice(CHANNELS),
        "buyer": {"id_hash": buyer_id, "postcode_area": f"{rng.randint(1000, 9999)}",
                  "country": rng.choice(("NL", "NL", "NL", "BE")), "birth_year": rng.randint(1940, 2008)},
    }


def _pick(rng: random.Random, types: list[str], weights: list[int], held: dict[str, int],
          capacity: int) -> str:
    for _ in range(8):
        kind = rng.choices(types, cum_weights=weights)[0]
        if kind == "SOLD" and held["sold"] + held["reserved"] + held["blocked"] >= capacity:
            continue
        if kind in ("CANCELLED", "REFUNDED", "SCANNED") and held["sold"] <= held["scanned"]:
            continue
        if kind == "RESERVATION_RELEASED" and held["reserved"] <= 0:
            continue
        if kind == "UNBLOCKED" and held["blocked"] <= 0:
            continue
        return kind
    return "SCANNED" if held["sold"] > held["scanned"] else "RESERVED"


def _events(perfs: list[dict[str, Any]], count: int, rng: random.Random, now: datetime
            ) -> Iterator[dict[str, Any]]:
    types, weights = [t for t, _ in MIX], list(itertools.accumulate(w for _, w in MIX))
    # long tail: performance i is picked with weight 1 / (1 + i % 50) ** 0.7
    cw = list(itertools.accumulate(1.0 / (1 + i % 50) ** 0.7 for i in range(len(perfs))))
    held: dict[int, dict[str, int]] = {}
    t0 = _ms(now - timedelta(hours=6))
    for n in range(count):  # one draw after another: the first k events never depend on count
        i = rng.choices(range(len(perfs)), cum_weights=cw)[0]
        h = held.setdefault(i, {"sold": 0, "reserved": 0, "blocked": 0, "scanned": 0})
        kind = _pick(rng, types, weights, h, perfs[i]["capacity"])
        qty = 1
        if kind in ("SOLD", "RESERVED"):
            qty = rng.choices((1, 2, 3, 4), cum_weights=(35, 80, 90, 100))[0]
        if kind == "BLOCKED":
            qty = rng.randint(2, 6)
        if kind in _EFFECTS:
            counter, sign = _EFFECTS[kind]
            qty = qty if sign > 0 else max(1, min(qty, h[counter]))
            h[counter] += sign * qty
        else:
            h["scanned"] += 1
        when = t0 + n * 7
        yield ticket_record(perfs[i]["performance_key"], f"e-{i:06d}", n, kind, qty, when, rng)


def make_dataset(performances: int, events: int, seed: int = 7, now: datetime | None = None) -> Dataset:
    """Generate and encode ``performances`` calendar facts and ``events`` ticket events.

    The first records are validated against the pydantic contract (what a connector
    checks before publishing), so the data stays realistic as the contract evolves.
    """
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    perfs = [_performance(i, rng, now) for i in range(performances)]
    evs = list(_events(perfs, events, rng, now))
    for p in perfs[:20]:
        Performance.model_validate(p)
    for e in evs[:200]:
        TicketEvent.model_validate({**e, "event_time": _dt(e["event_time"]),
                                    "ingested_at": _dt(e["ingested_at"])})
    ds = Dataset(perfs, evs, _encode(load_schema("performance.avsc"), perfs),
                 _encode(load_schema("ticket_event.avsc"), evs))
    return ds.part(0, events)

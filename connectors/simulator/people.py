"""The buyer pool: pseudo-customers with realistic fake personal data.

Faker (locales ``nl_NL`` and ``nl_BE``) draws names, streets, postcodes, cities,
phones and e-mail domains; it is seeded from the season's ``random.Random`` so the
pool is reproducible for a given Faker version. Birth dates are drawn here against
the season's ``now`` (Faker's own date helpers read today's clock).
"""

from __future__ import annotations

import random
import unicodedata
from datetime import date, timedelta

from faker import Faker

from connectors.simulator.model import Customer

__all__ = ["BuyerPool", "make_customers"]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum())


def make_customers(rng: random.Random, count: int, today: date, *, be_share: float = 0.35
                   ) -> tuple[Customer, ...]:
    """``count`` customers, about ``be_share`` of them living in Flanders."""
    fakers = {"NL": Faker("nl_NL"), "BE": Faker("nl_BE")}
    for f in fakers.values():
        f.seed_instance(rng.getrandbits(64))
    out = []
    for i in range(count):
        country = "BE" if rng.random() < be_share else "NL"
        f = fakers[country]
        first, last = f.first_name(), f.last_name()
        user = f"{_ascii(first)}.{_ascii(last)}"
        if rng.random() < 0.4:
            user += str(rng.randint(1, 99))
        age_days = rng.randint(16 * 365, 86 * 365)
        house = str(rng.randint(1, 240)) + ("" if rng.random() < 0.8 else rng.choice("abc"))
        postcode = f.postcode()
        if country == "NL" and " " not in postcode:
            postcode = f"{postcode[:4]} {postcode[4:]}"
        out.append(Customer(
            id=f"C{100000 + i}", first_name=first, last_name=last,
            email=f"{user}@{f.free_email_domain()}", phone=f.phone_number(),
            street=f"{f.street_name()} {house}", postcode=postcode, city=f.city(),
            country=country, birthdate=today - timedelta(days=age_days)))
    return tuple(out)


class BuyerPool:
    """Picks the buyer of an order: regulars return often, locals are likelier.

    Args:
        customers: the pool.
        regular_share: the first part of the pool that buys far more often.

    """

    def __init__(self, customers: tuple[Customer, ...], regular_share: float = 0.15) -> None:
        self._by_country = {c: [x for x in customers if x.country == c] for c in ("NL", "BE")}
        self._regular_share = regular_share

    def pick(self, rng: random.Random, venue_country: str) -> Customer:
        other = "BE" if venue_country == "NL" else "NL"
        country = venue_country if rng.random() < 0.88 or not self._by_country[other] else other
        group = self._by_country[country] or self._by_country[other]
        if rng.random() < 0.35:  # a regular
            group = group[: max(1, int(len(group) * self._regular_share))]
        return group[rng.randrange(len(group))]

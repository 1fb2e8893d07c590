"""The box-office export's vocabulary: column names (English and Dutch), actions and
ticket types, and which columns hold personal data.

Headers are compared normalised (lower case, accents kept, runs of spaces, dashes,
dots and slashes turned into ``_``), so ``E-mail``, ``e mail`` and ``email`` are one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from schemas.models import TicketEventType, TicketType

__all__ = ["ACTIONS", "ALIASES", "PERSONAL", "REQUIRED", "TICKET_TYPES", "HeaderError",
           "map_header", "normalise"]


class HeaderError(ValueError):
    """The header cannot be read as a box-office export; the message says what to fix."""


ALIASES: dict[str, tuple[str, ...]] = {
    "order_id": ("order_id", "order", "orderid", "order_nr", "ordernummer", "bestelnummer",
                 "bestelling", "bestelling_id", "transactie_id"),
    "ticket_id": ("ticket_id", "ticket", "ticketid", "ticket_nr", "ticketnummer", "kaartnummer",
                  "barcode"),
    "event_id": ("event_id", "event", "eventid", "performance_id", "voorstelling_id",
                 "voorstellingsnummer", "evenement_id", "uitvoering_id"),
    "dip_id": ("dip_id", "dip", "dipid", "dip_nummer"),
    "uit_id": ("uit_id", "uit", "uitid", "uitdatabank_id", "uitdatabankid", "uit_event_id"),
    "event_name": ("event_name", "performance", "titel", "voorstelling", "evenement"),
    "performance_start": ("performance_start", "start", "event_start", "aanvang",
                          "datum_voorstelling", "voorstelling_datum", "aanvangstijd"),
    "action": ("action", "actie", "handeling", "mutatie", "status"),
    "ticket_type": ("ticket_type", "price_type", "pricetype", "tarief", "prijssoort",
                    "kaartsoort", "tickettype", "prijscategorie"),
    "price": ("price", "amount", "prijs", "bedrag", "prijs_eur", "bedrag_eur"),
    "sold_at": ("sold_at", "timestamp", "date", "datetime", "transaction_date", "verkocht_op",
                "datum", "transactiedatum", "tijdstip", "mutatiedatum"),
    "channel": ("channel", "sales_channel", "kanaal", "verkoopkanaal"),
    "customer_id": ("customer_id", "customer", "customerid", "klant_id", "klantnummer",
                    "relatienummer"),
    "postcode": ("postcode", "postal_code", "zip", "zipcode", "postcode_klant"),
    "country": ("country", "land", "country_code", "landcode"),
    "birthdate": ("birthdate", "birth_date", "date_of_birth", "geboortedatum"),
    "name": ("name", "naam", "full_name", "volledige_naam", "klantnaam"),
    "first_name": ("first_name", "firstname", "voornaam"),
    "last_name": ("last_name", "lastname", "surname", "achternaam"),
    "email": ("email", "e_mail", "mail", "emailadres", "e_mailadres"),
    "phone": ("phone", "telephone", "telefoon", "telefoonnummer", "mobiel"),
    "address": ("address", "street", "adres", "straat", "huisnummer"),
    "city": ("city", "woonplaats", "plaats"),
    "currency": ("currency", "valuta", "munteenheid"),
}

#: Columns whose values are personal data: never published, masked in dead letters.
PERSONAL = frozenset({"name", "first_name", "last_name", "email", "phone", "address",
                      "birthdate", "postcode", "city"})
REQUIRED = ("ticket_id", "action", "sold_at")

ACTIONS: dict[str, TicketEventType] = {
    **dict.fromkeys(("sale", "sold", "sell", "verkoop", "verkocht"), TicketEventType.SOLD),
    **dict.fromkeys(("refund", "refunded", "retour", "terugbetaling", "terugbetaald",
                     "restitutie"), TicketEventType.REFUNDED),
    **dict.fromkeys(("cancel", "cancelled", "canceled", "cancellation", "annulering",
                     "geannuleerd", "annuleren"), TicketEventType.CANCELLED),
    **dict.fromkeys(("scan", "scanned", "checkin", "check_in", "gescand", "binnenkomst",
                     "entree"), TicketEventType.SCANNED),
}

TICKET_TYPES: dict[str, TicketType] = {
    **dict.fromkeys(("normal", "normaal", "regulier", "vol", "volwassene", "standaard",
                     "full", "regular", "adult"), TicketType.NORMAL),
    **dict.fromkeys(("discount", "korting", "reductie", "cjp", "student", "65+", "senior",
                     "kind", "jongeren", "groep", "uitpas", "concession"), TicketType.DISCOUNT),
    **dict.fromkeys(("free", "gratis", "vrijkaart", "comp", "complimentary", "genodigde",
                     "0-tarief"), TicketType.FREE),
    **dict.fromkeys(("other", "overig", "anders"), TicketType.OTHER),
}

_SEP = re.compile(r"[\s\-./]+")
_BY_ALIAS = {alias: canon for canon, aliases in ALIASES.items() for alias in aliases}


def normalise(label: str) -> str:
    """``" E-mail "`` -> ``"e_mail"``."""
    return _SEP.sub("_", label.strip().lower()).strip("_")


def map_header(header: Sequence[str], extra: Mapping[str, str] | None = None) -> list[str | None]:
    """The canonical name of each column (``None`` for columns the import does not use);
    ``extra`` maps more labels (normalised) to canonical names, before the built-in ones.

    Raises:
        HeaderError: a required column is missing, no performance column exists, or two
            columns mean the same.

    """
    out: list[str | None] = []
    for label in header:
        canon = (extra or {}).get(normalise(label)) or _BY_ALIAS.get(normalise(label))
        if canon is not None and canon in out:
            raise HeaderError(f"columns {label!r} and another one both mean {canon}; keep one")
        out.append(canon)
    missing = [c for c in REQUIRED if c not in out]
    if missing:
        raise HeaderError(f"missing column(s) {', '.join(missing)} (Dutch names welcome, e.g. "
                          f"ticketnummer, actie, datum); header was: {', '.join(header)[:300]}")
    if "event_id" not in out and "dip_id" not in out and "uit_id" not in out:
        raise HeaderError("no performance column: give event_id (voorstelling_id), dip_id or "
                          "uit_id")
    return out

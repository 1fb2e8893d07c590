"""Privacy at the edge: raw personal data never leaves the connector.

A buyer becomes a keyed HMAC of the vendor's customer id (secret per deployment), a
postcode area (NL: the 4 digits; BE: the 4-digit postcode), a country and a birth
year. Names, e-mail addresses, phone numbers, street addresses and full birth dates
have no field in the contract to go into.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date, datetime

from pydantic import SecretStr

from connectors.sdk.countries import iso_country_or_none
from connectors.sdk.errors import MappingError
from schemas.models import Buyer

__all__ = ["Pseudonymiser", "birth_year", "postcode_area"]

_NL = re.compile(r"^\s*([1-9][0-9]{3})\s*([A-Za-z]{2})?\s*$")
_BE = re.compile(r"^\s*(?:B-?)?([1-9][0-9]{3})\s*$", re.IGNORECASE)


def postcode_area(postcode: str | None, country: str | None) -> str | None:
    """``"3511 EH", "NL"`` -> ``"3511"``; ``"B-2000", "BE"`` -> ``"2000"``; else None.

    An unreadable postcode yields None (the buyer stays without area) rather than
    letting a raw value through.
    """
    if not postcode:
        return None
    c = (country or "NL").upper()
    m = (_BE if c == "BE" else _NL).match(postcode)
    return m.group(1) if m else None


def birth_year(value: str | date | datetime | int | None) -> int | None:
    """The year of a birth date given as ISO text, date, datetime or year."""
    if value is None or value == "":
        return None
    if isinstance(value, int):
        year = value
    elif isinstance(value, datetime | date):
        year = value.year
    else:
        m = re.match(r"^\s*(\d{4})", str(value))
        if not m:
            raise MappingError(f"birth date {len(str(value))} chars long is not ISO "
                               "(YYYY-MM-DD)", field="buyer.birthdate")
        year = int(m.group(1))
    return year if 1900 <= year <= 2100 else None


class Pseudonymiser:
    """Turns a vendor customer into a contract ``Buyer``.

    Args:
        secret: the deployment's HMAC key (``CULTUURBUS_CONNECTOR__BUYER_SECRET``); the
            same customer id hashes to the same value within one deployment only.

    """

    def __init__(self, secret: SecretStr) -> None:
        key = secret.get_secret_value().encode()
        if len(key) < 16:
            raise MappingError("buyer secret must be at least 16 characters; set "
                               "CULTUURBUS_CONNECTOR__BUYER_SECRET")
        self._key = key

    def hash_id(self, namespace: str, customer_id: str) -> str:
        return hmac.new(self._key, f"{namespace}\x1f{customer_id}".encode(),
                        hashlib.sha256).hexdigest()

    def buyer(self, namespace: str, customer_id: str | int | None, *, postcode: str | None = None,
              country: str | None = None, birthdate: str | date | int | None = None) -> Buyer | None:
        """The pseudonymised buyer, or None when the vendor gave no customer id.

        Raises:
            MappingError: ``country`` is given but is no country (``buyer.country``); a
                connector resolves it first with ``countries.iso_country_or_none`` to name
                its own input field.

        """
        if customer_id is None or customer_id == "":
            return None
        cc = iso_country_or_none(country, "buyer.country")
        return Buyer(id_hash=self.hash_id(namespace, str(customer_id)),
                     postcode_area=postcode_area(postcode, cc), country=cc,
                     birth_year=birth_year(birthdate))

"""Privacy at the edge: raw personal data never leaves the connector.

A buyer becomes a pseudonym, a postcode area (NL: the 4 digits; BE: the 4-digit
postcode), a country and a birth year. Names, e-mail addresses, phone numbers, street
addresses and full birth dates have no field in the contract to go into.

The pseudonym is 64 hex digits, as the contract says: the id of the key that made it (two
hex digits, ``buyer_key_id``) and the first 62 of the HMAC-SHA256 of the vendor's
customer id under that key. The key is the deployment's, from outside the repository and
the topics (``connector.buyer_secret`` or ``connector.buyer_secret_file``); there is no
default. A buyer keeps one pseudonym while the key stays; a new key (a rotation) makes
every buyer new, and the key id says which pseudonyms belong together
(``docs/pseudonyms.md``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import date, datetime

from pydantic import SecretStr

from bus.errors import ConfigError
from bus.settings import ConnectorSettings
from connectors.sdk.countries import iso_country_or_none
from connectors.sdk.errors import MappingError
from schemas.models import Buyer

__all__ = ["Pseudonymiser", "birth_year", "key_id_of", "postcode_area"]

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


_HOW = ("set CULTUURBUS_CONNECTOR__BUYER_SECRET, or CULTUURBUS_CONNECTOR__BUYER_SECRET_FILE "
        "to a file holding it ([connector] buyer_secret / buyer_secret_file in the TOML file); "
        "make one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`, one per "
        "deployment, and keep it outside the repository")


def key_id_of(pseudonym: str) -> int:
    """The id of the key that made ``pseudonym`` (its first two hex digits)."""
    return int(pseudonym[:2], 16)


class Pseudonymiser:
    """Turns a vendor customer into a contract ``Buyer``.

    Args:
        secret: the deployment's HMAC key (at least 16 characters); the same customer id
            gets the same pseudonym under one key only.
        key_id: which key it is (1-255), the first two hex digits of every pseudonym.

    Raises:
        ConfigError: the key is too short, or the key id out of range.

    """

    def __init__(self, secret: SecretStr, key_id: int = 1) -> None:
        key = secret.get_secret_value().encode()
        if len(key) < 16:
            raise ConfigError(f"the buyer pseudonym key is {len(key)} characters long, fewer "
                              f"than 16: {_HOW}")
        if not 1 <= key_id <= 255:
            raise ConfigError(f"buyer key id {key_id} is not 1-255 "
                              "(CULTUURBUS_CONNECTOR__BUYER_KEY_ID)")
        self._key = key
        self.key_id = key_id
        self._prefix = f"{key_id:02x}"

    @classmethod
    def from_settings(cls, settings: ConnectorSettings) -> Pseudonymiser:
        """The deployment's pseudonymiser: the key from ``buyer_secret`` or ``buyer_secret_file``.

        Raises:
            ConfigError: neither (or both) is set, or the file cannot be read; the
                message says how to set it.

        """
        secret, path = settings.buyer_secret, settings.buyer_secret_file
        if secret is not None and path is not None:
            raise ConfigError("both connector.buyer_secret and connector.buyer_secret_file are "
                              "set: keep one (CULTUURBUS_CONNECTOR__BUYER_SECRET[_FILE])")
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read the buyer pseudonym key from {path} "
                                  f"(connector.buyer_secret_file): {exc}") from None
            if not text:
                raise ConfigError(f"{path} (connector.buyer_secret_file) is empty: {_HOW}")
            secret = SecretStr(text)
        if secret is None:
            raise ConfigError(f"this connector pseudonymises buyers and has no key: {_HOW}")
        return cls(secret, settings.buyer_key_id)

    def hash_id(self, namespace: str, customer_id: str) -> str:
        """The pseudonym of ``customer_id`` of ``namespace`` (vendor:account) under this key."""
        mac = hmac.new(self._key, f"{namespace}\x1f{customer_id}".encode(), hashlib.sha256)
        return self._prefix + mac.hexdigest()[:62]

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

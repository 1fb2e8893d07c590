"""Values the calendar connectors read alike: ISO date-times, tagged identifiers,
countries, and what a refused value or a dead letter becomes.

Tagged identifiers are how a partner puts a bus identifier on a calendar item that
has no field for it (a UiT label, a schema.org ``identifier`` string, an iCal
``X-CULTUURBUS-ID`` property)::

    dip:<PRODUCTION>|<NUMBER>            dip:NL-23-1234-5|3
    uit:<EVENT UUID>#<SUBEVENT INDEX>     uit:5e2b6c1f-...-0c1d#0
    vendor:<system>:<account>:<local id>  vendor:ticketmatic:acme:10234

The prefix is case-insensitive; anything else is not an identifier.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from connectors.sdk.countries import iso_country_or_none
from connectors.sdk.errors import MappingError
from schemas.models import Identifier

__all__ = ["DEFAULT_TIMEZONE", "contract_error", "country_code", "json_bytes", "parse_datetime",
           "parse_tagged"]

#: Floating times (no zone) are read in this zone unless a feed says otherwise.
#: Europe/Amsterdam and Europe/Brussels have had the same offsets since 1940.
DEFAULT_TIMEZONE = "Europe/Amsterdam"
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def parse_datetime(value: Any, field: str, default_tz: tzinfo | None = None) -> datetime:
    """An ISO 8601 date-time (or date) as an aware datetime in UTC.

    Times without an offset are read in ``default_tz`` (a date is its midnight there).

    Raises:
        MappingError: the value is missing or not ISO 8601; names ``field``.

    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            try:
                parsed = datetime.combine(date.fromisoformat(text), time())
            except ValueError:
                raise MappingError(f"{field} is not an ISO 8601 date-time: {value!r}",
                                   field=field) from None
    else:
        raise MappingError(f"{field} is missing or not a date-time: {value!r}", field=field)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=default_tz or ZoneInfo(DEFAULT_TIMEZONE))
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-12:00 is past the last UTC instant
        raise MappingError(f"{field} is out of range: {str(value)[:40]!r}", field=field) from None


def contract_error(exc: ValidationError, paths: dict[str, str], default: str) -> MappingError:
    """A value the contract refused, as a MappingError naming the input field it came
    from (``paths``: contract field -> input path; ``default`` for the others)."""
    return MappingError.from_validation(exc, paths, default, what="performance")


def json_bytes(obj: Any) -> bytes:
    """``obj`` as UTF-8 JSON for a dead letter; text that is not valid Unicode (a lone
    surrogate from a JSON escape such as backslash-ud800) stays escaped as it arrived."""
    text = json.dumps(obj, ensure_ascii=False, default=str)
    try:
        return text.encode()
    except UnicodeEncodeError:
        return json.dumps(obj, default=str).encode()


def parse_tagged(text: Any) -> Identifier | None:
    """A tagged identifier (see the module docstring), or None."""
    if not isinstance(text, str):
        return None
    head, _, rest = text.strip().partition(":")
    kind = head.lower()
    try:
        if kind == "dip":
            prod, sep, number = rest.rpartition("|")
            if sep and prod.strip() and number.strip():
                return Identifier.dip(prod.strip(), number.strip())
        elif kind == "uit":
            uuid, sep, idx = rest.rpartition("#")
            if sep and _UUID.match(uuid.strip()) and re.fullmatch(r"[0-9]{1,9}", idx.strip()):
                return Identifier.uit(uuid.strip().lower(), int(idx))
        elif kind == "vendor":
            parts = rest.split(":", 2)
            if len(parts) == 3 and all(p.strip() for p in parts):
                return Identifier.vendor(parts[0].strip(), parts[1].strip(), parts[2].strip())
    except ValueError:
        return None
    return None


def country_code(value: Any, default: str, field: str) -> str:
    """``"BE"``, ``"België"`` or ``{"name": "Belgium"}`` -> ``"BE"``; ``default`` only when
    the address names no country (absent, null or blank).

    Raises:
        MappingError: a value that is no country (``countries.iso_country``); names ``field``.

    """
    if isinstance(value, dict):
        value = value.get("name") or value.get("identifier")
    return iso_country_or_none(value, field) or default

"""Countries as vendors write them -> ISO 3166-1 alpha-2, from the maintained ISO tables.

A vendor's address says ``"NL"``, ``"BEL"``, ``"Zwitserland"``, ``"Suisse"``,
``"Schweiz"`` or ``"España"``; the contract carries ``"CH"``. Codes and names come from
pycountry: ISO 3166-1 (alpha-2, alpha-3, English short, official and common names) and
its translations (the Debian iso-codes catalogues) in Dutch, French, German and Spanish,
the languages of the venues and buyers the connectors meet. Names are compared casefolded,
without accents, punctuation or a leading "the" (``"the Netherlands"``, ``"Pays Bas"``,
``"Osterreich"`` all match). The lookup is built once, on first use; the last 1,024
spellings looked up keep their answer (folding a name was a fortieth of a webhook
delivery's CPU, and a buyer's country is looked up twice per delivery).

A value that is no country is a :class:`~bus.errors.MappingError` naming the value and
the field, never a default: the connector answers it 422 or dead-letters it, as every
other refused value. An absent value (None or blank) is for the caller to decide.
"""

from __future__ import annotations

import gettext
import re
import unicodedata
from functools import cache, lru_cache
from typing import Any

import pycountry

from connectors.sdk.errors import MappingError

__all__ = ["iso_country", "iso_country_or_none"]

#: Languages whose country names are accepted besides English.
LANGUAGES = ("nl", "fr", "de", "es")

#: Names in common use that ISO does not list (its names for these are accepted too).
_ALIASES = {"holland": "NL", "uk": "GB", "great britain": "GB"}


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.casefold())
    bare = "".join(c for c in folded if not unicodedata.combining(c))
    words = re.sub(r"[\W_]+", " ", bare).split()
    return " ".join(words[1:] if words[:1] == ["the"] and len(words) > 1 else words)


@cache
def _lookup() -> dict[str, str]:
    """Every accepted spelling (as ``_key`` folds it) -> alpha-2."""
    table: dict[str, str] = {}
    translations: list[gettext.NullTranslations] = [gettext.NullTranslations()]
    translations += [gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
                     for lang in LANGUAGES]
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                for t in translations:
                    table.setdefault(_key(t.gettext(name)), country.alpha_2)
    for alias, code in _ALIASES.items():
        table.setdefault(_key(alias), code)
    for country in pycountry.countries:  # codes win over any name spelled alike
        table[country.alpha_2.casefold()] = country.alpha_2
        table[country.alpha_3.casefold()] = country.alpha_2
    return table


@lru_cache(maxsize=1024)
def _code(text: str) -> str | None:
    """The alpha-2 code ``text`` spells, or None; the spellings a connector meets again and
    again (bounded: hostile values cannot grow it) are folded once."""
    return _lookup().get(_key(text))


def iso_country(value: Any, field: str) -> str:
    """The ISO 3166-1 alpha-2 code of a country code or name.

    Args:
        value: an alpha-2 or alpha-3 code, or a name in English, Dutch, French, German
            or Spanish (any case, with or without accents).
        field: the input field the value came from, for the error.

    Raises:
        MappingError: the value is no country this table knows; names the value and field.

    """
    code = _code(value) if isinstance(value, str) else None
    if code is None:
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        raise MappingError(f"{field} {shown} is not a country: give an ISO 3166-1 code (CH, CHE) "
                           "or a name in English, Dutch, French, German or Spanish "
                           "(Switzerland, Zwitserland, Suisse, Schweiz, Suiza)", field=field)
    return code


def iso_country_or_none(value: Any, field: str) -> str | None:
    """As :func:`iso_country`, but None when no country is given (None or blank text)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return iso_country(value, field)

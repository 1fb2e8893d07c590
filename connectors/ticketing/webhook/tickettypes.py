"""Vendor ticket type names and prices -> the contract's NORMAL / DISCOUNT / FREE / OTHER.

Exact names from ``WebhookSettings.ticket_types`` win; then price 0 is FREE; then
keyword rules (Dutch and English) decide. A name nothing recognises is OTHER, or, in
strict mode, a ``MappingError`` naming it (422 + dead letter).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from connectors.sdk.errors import MappingError
from schemas.models import TicketType

__all__ = ["DEFAULT_RULES", "TicketTypeMapper"]


def _rule(anywhere: tuple[str, ...], words: tuple[str, ...] = ()) -> re.Pattern[str]:
    """Dutch compounds ("Studentenkorting") match ``anywhere``; short or ambiguous
    ``words`` ("comp", "kind") only as whole words."""
    parts = [re.escape(w) for w in anywhere]
    parts += [rf"(?<![0-9a-z]){re.escape(w)}(?![a-z])" for w in words]
    return re.compile("|".join(parts), re.IGNORECASE)


#: Checked in order; the first rule that matches a name wins.
DEFAULT_RULES: tuple[tuple[TicketType, re.Pattern[str]], ...] = (
    (TicketType.FREE, _rule(("vrijkaart", "gratis", "complimentary", "genodigde", "uitnodiging"),
                            ("free", "comp", "comps", "invitation"))),
    (TicketType.DISCOUNT, _rule(("korting", "reductie", "discount", "student", "senior", "jongeren",
                                 "kinder", "uitpas", "stadspas", "65+", "cjp"),
                                ("kind", "child", "children", "youth", "groep", "group",
                                 "early bird", "last minute"))),
    (TicketType.NORMAL, _rule(("regulier", "normaal", "standaard", "volwassen", "vol tarief"),
                              ("normal", "standard", "adult", "full price", "general admission",
                               "entree", "toegang"))),
)


class TicketTypeMapper:
    """Decides the ticket type of a vendor's ticket name and price.

    Args:
        overrides: exact names (case-insensitive) -> ticket type.
        strict: refuse names no override or rule knows instead of answering OTHER.

    """

    def __init__(self, overrides: Mapping[str, TicketType] | None = None, *,
                 strict: bool = False) -> None:
        self._overrides = {k.strip().lower(): v for k, v in (overrides or {}).items()}
        self.strict = strict

    def __call__(self, name: str | None, price_cents: int | None, *, field: str) -> TicketType:
        """The ticket type of ``name`` sold at ``price_cents``.

        Raises:
            MappingError: strict mode and the name is unknown (names the name and field).

        """
        label = (name or "").strip()
        hit = self._overrides.get(label.lower())
        if hit is not None:
            return hit
        if price_cents == 0:
            return TicketType.FREE
        for ticket_type, pattern in DEFAULT_RULES:
            if pattern.search(label):
                return ticket_type
        if self.strict:
            raise MappingError(
                f"unknown ticket type {label!r} at {field}: add it to "
                "CULTUURBUS_WEBHOOK__TICKET_TYPES (name -> NORMAL|DISCOUNT|FREE|OTHER) or turn "
                "strict ticket types off", field=field)
        return TicketType.OTHER

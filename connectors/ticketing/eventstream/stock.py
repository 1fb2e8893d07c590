"""Ticketmatic ``availability[]`` -> ``DeclaredAvailability`` of the event.

An Event carries one ``EventContingentAvailability`` per contingent (``tickettypeid``):
``total``, ``free`` (still for sale), ``reserved``, ``sold_paid``, ... Contingents are
separate stock (each ticket is in one contingent), so the event's declared figures are
the sums: capacity = sum of ``total``, remaining = sum of ``free``; 0 free is SOLD_OUT.
An event whose contingents carry no ``free`` declares nothing (only its capacity); a
``free`` that is not a non-negative integer, or that is missing on some contingents
only, is a ``MappingError`` naming the contingent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.sdk.declared import declared, seats
from connectors.sdk.errors import MappingError
from schemas.models import DeclaredAvailability

__all__ = ["contingent_stock"]


def contingent_stock(contingents: list[Any], as_of: datetime) -> DeclaredAvailability | None:
    """The event's declared availability, as of the item's ``ts``; None without ``free``."""
    have = [isinstance(c, dict) and "free" in c for c in contingents]
    if not any(have):
        return None
    free = total = 0
    for i, c in enumerate(contingents):
        path = f"data.availability[{i}].free"
        if not have[i]:
            raise MappingError(f"{path} is missing while other contingents have one: the "
                               "event's free seats cannot be summed", field=path)
        free += seats(c["free"], path) or 0
        total += seats(c.get("total"), f"data.availability[{i}].total") or 0
    return declared(None, capacity=total, remaining=free, source_field="data.availability[].free",
                    as_of=as_of)

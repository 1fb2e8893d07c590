"""schema.org offer stock -> ``DeclaredAvailability``.

``offers[].availability`` (an ``ItemAvailability``, as a full URL or a bare name; compared
on its last segment) and the Event's ``remainingAttendeeCapacity`` /
``maximumAttendeeCapacity``:

    InStock, OnlineOnly, InStoreOnly, PreOrder, PreSale, BackOrder, MadeToOrder -> AVAILABLE
    LimitedAvailability                                                         -> LIMITED
    SoldOut, OutOfStock                                                         -> SOLD_OUT
    Discontinued, Reserved                                                      -> UNAVAILABLE

Several offers (price tiers) of one performance: the most available one speaks for it
(one tier sold out while another sells is not a sold-out show). A word outside
``ItemAvailability`` or a capacity that is not a non-negative integer is a
``MappingError`` naming the property.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.calendar.schemaorg.extract import short
from connectors.sdk.declared import declared, seats
from connectors.sdk.errors import MappingError
from schemas.models import DeclaredAvailability, DeclaredStatus

__all__ = ["declared_stock"]

_WORDS = {
    **dict.fromkeys(("InStock", "OnlineOnly", "InStoreOnly", "PreOrder", "PreSale", "BackOrder",
                     "MadeToOrder"), DeclaredStatus.AVAILABLE),
    "LimitedAvailability": DeclaredStatus.LIMITED,
    "SoldOut": DeclaredStatus.SOLD_OUT, "OutOfStock": DeclaredStatus.SOLD_OUT,
    "Discontinued": DeclaredStatus.UNAVAILABLE, "Reserved": DeclaredStatus.UNAVAILABLE,
}
#: Which word speaks for the performance when offers differ: the most available one.
_RANK = [DeclaredStatus.UNAVAILABLE, DeclaredStatus.SOLD_OUT, DeclaredStatus.LIMITED,
         DeclaredStatus.AVAILABLE]


def declared_stock(node: dict[str, Any], offers: list[dict[str, Any]],
                   as_of: datetime) -> DeclaredAvailability | None:
    """What the event node and its (resolved) offers declare; None when they declare nothing."""
    words = []
    for i, offer in enumerate(offers):
        value = offer.get("availability")
        if value is None:
            continue
        word = _WORDS.get(short(value)) if isinstance(value, str) else None
        if word is None:
            raise MappingError(f"offers[{i}].availability {str(value)[:60]!r} is not a schema.org "
                               "ItemAvailability (InStock, LimitedAvailability, SoldOut, ...)",
                               field="offers.availability")
        words.append(word)
    remaining = seats(node.get("remainingAttendeeCapacity"), "remainingAttendeeCapacity", text=True)
    capacity = seats(node.get("maximumAttendeeCapacity"), "maximumAttendeeCapacity", text=True)
    if not words and remaining is None:
        return None
    status = max(words, key=_RANK.index) if words else None
    if remaining == 0 and status in (None, DeclaredStatus.AVAILABLE, DeclaredStatus.LIMITED):
        status = DeclaredStatus.SOLD_OUT
    fields = [f for f, present in (("offers.availability", words),
                                   ("remainingAttendeeCapacity", remaining is not None)) if present]
    return declared(status, capacity=capacity, remaining=remaining, source_field="+".join(fields),
                    as_of=as_of)

"""Availability a source declares about its own stock -> ``DeclaredAvailability``.

Every calendar and vendor connector that reads a declared figure (UiTdatabank
``bookingAvailability``, schema.org ``offers.availability``, Ticketmatic ``availability[]``,
Stager ticket types) builds it here, so one rule holds for all of them:

- a seat count must be a non-negative integer (a JSON number, or digits in text for the
  formats that write numbers as text); anything else is a ``MappingError`` naming the
  field, never a silent default;
- remaining above capacity is refused (UiTdatabank answers the same with HTTP 400);
- a source that gives a number but no word gets the word from the number: 0 remaining
  is SOLD_OUT, more is AVAILABLE (LIMITED is the bus's threshold, not the source's).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from connectors.sdk.errors import MappingError
from schemas.models import DeclaredAvailability, DeclaredStatus

__all__ = ["declared", "seats"]

_INT_MAX = 2**31 - 1


def seats(value: Any, path: str, *, text: bool = False) -> int | None:
    """A seat count at ``path`` (None when absent); ``text`` also takes digits in a string.

    Raises:
        MappingError: not a non-negative integer the contract can carry.

    """
    if value is None:
        return None
    if text and isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT_MAX:
        raise MappingError(f"{path} must be a seat count (an integer from 0 to {_INT_MAX}), "
                           f"not {str(value)[:40]!r}", field=path)
    return value


def declared(status: DeclaredStatus | None, *, capacity: int | None, remaining: int | None,
             source_field: str, as_of: datetime) -> DeclaredAvailability:
    """The declared availability; ``status`` None: from ``remaining`` (0: SOLD_OUT).

    Raises:
        MappingError: remaining above capacity (names ``source_field``).

    """
    if capacity is not None and remaining is not None and remaining > capacity:
        raise MappingError(f"{source_field}: remaining ({remaining}) exceeds capacity ({capacity}); "
                           "the source contradicts itself", field=source_field)
    if status is None:
        status = (DeclaredStatus.UNKNOWN if remaining is None
                  else DeclaredStatus.SOLD_OUT if remaining == 0 else DeclaredStatus.AVAILABLE)
    return DeclaredAvailability(status=status, capacity=capacity, remaining=remaining,
                                source_field=source_field, as_of=as_of)

"""The bodies of DIP's cumulative calls, validated with field-named errors.

REFERENCE.md gives the calls and what they carry (tickets and revenue per ticket type
``normal | discount | free | other``, reservations and their value, blocked seats and
their value, hall capacity; amounts in cents as DIP's ``recette``); the exact JSON of
the bodies is not public, so these shapes are ours and documented in the OpenAPI:

``PUT .../tickets/cumulative``        ``{"normal": {"tickets": 120, "recette": 360000},
                                      "discount": {...}, "free": {...}, "other": {...},
                                      "updated": "2025-02-01T10:00:00+01:00"}``
``PUT .../reservations/cumulative``   ``{"reservations": 12, "value": 36000, "updated": ...}``
``PUT .../blocked-seats/cumulative``  ``{"blockedSeats": 4, "value": 0, "updated": ...}``
``PUT .../capacity``                  ``{"capacity": 850, "updated": ...}``

``updated`` (optional, with a UTC offset) is when the ticketing system computed the
numbers; without it the time of receipt is used. A ticket type left out of a tickets
call has sold 0 (the call is cumulative). Unknown fields are ignored.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.sdk.errors import MappingError
from schemas.models import TicketType

__all__ = ["PARTS", "BadJson", "BlockedBody", "CapacityBody", "ReservationsBody", "TicketsBody",
           "TypeLine", "parse_body"]

class BadJson(MappingError):
    """The body is not a JSON object (answered 400, not 422)."""


Count = Annotated[int, Field(strict=True, ge=0)]
Cents = Annotated[int, Field(strict=True, ge=0, description="Euro cents (DIP's recette)")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    updated: AwareDatetime | None = Field(
        default=None, description="When the numbers were computed (ISO-8601 with offset).")


class TypeLine(BaseModel):
    """Cumulative tickets and revenue of one DIP ticket type."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    tickets: Count
    recette: Cents = 0


class TicketsBody(_Body):
    """``PUT .../tickets/cumulative``: tickets sold and revenue per ticket type."""

    normal: TypeLine | None = None
    discount: TypeLine | None = None
    free: TypeLine | None = None
    other: TypeLine | None = None

    @model_validator(mode="after")
    def _some_type(self) -> TicketsBody:
        if all(getattr(self, t) is None for t in ("normal", "discount", "free", "other")):
            raise ValueError("give at least one ticket type: normal, discount, free or other")
        return self

    def lines(self) -> dict[str, tuple[int, int]]:
        """Ticket type -> (tickets, revenue cents), every type (absent = 0)."""
        out = {}
        for tt in TicketType:
            line: TypeLine | None = getattr(self, tt.value.lower())
            out[tt.value] = (line.tickets, line.recette) if line else (0, 0)
        return out


class ReservationsBody(_Body):
    """``PUT .../reservations/cumulative``: seats reserved and their value."""

    reservations: Count
    value: Cents = 0


class BlockedBody(_Body):
    """``PUT .../blocked-seats/cumulative``: seats blocked and their value."""

    blocked_seats: Count = Field(alias="blockedSeats")
    value: Cents = 0


class CapacityBody(_Body):
    """``PUT .../capacity``: the hall's current capacity."""

    capacity: Count


#: path part -> body model
PARTS: dict[str, type[_Body]] = {
    "tickets": TicketsBody,
    "reservations": ReservationsBody,
    "blocked-seats": BlockedBody,
    "capacity": CapacityBody,
}


def parse_body(part: str, raw: bytes) -> Any:
    """The validated body of a ``part`` call.

    Raises:
        BadJson: the body is not a JSON object.
        MappingError: with ``field`` naming the offending field.

    """
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadJson(f"body is not UTF-8 JSON{where}", field="body") from None
    if not isinstance(data, dict):
        raise BadJson(f"body must be a JSON object, not {type(data).__name__}", field="body")
    try:
        return PARTS[part].model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        path = ".".join(str(p) for p in first["loc"]) or "body"
        raise MappingError(f"{path}: {first['msg']}", field=path) from None
